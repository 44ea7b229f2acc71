//! [`TrialId`]: a planned trial's name, `suite::case::processor::target::transport`,
//! as a type. The planner writes it, the selftest reads it back; nothing
//! else takes a trial's name apart.

use std::fmt;

use super::suite::{Via, is_name};
use crate::registry::ProcessorRef;
use crate::vocab::TargetKind;

/// The separator of a trial name's parts.
const SEPARATOR: &str = "::";

/// A planned trial's identity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrialId {
    /// The suite.
    pub suite: String,
    /// The case in the suite.
    pub case: String,
    /// The processor.
    pub processor: ProcessorRef,
    /// The target.
    pub target: TargetKind,
    /// The transport (or `none`).
    pub via: Via,
}

impl TrialId {
    /// `suite::case`: what the fault catalogue names.
    pub fn case_id(&self) -> String {
        format!("{}{SEPARATOR}{}", self.suite, self.case)
    }

    /// Parses a planned trial's name; `Err` says why it is not one (the
    /// pseudo-trials `golden::unused::...`, `known_failures::...` are not).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(SEPARATOR).collect();
        let [suite, case, processor, target, via] = parts.as_slice() else {
            return Err(format!(
                "{text:?} is not `suite::case::processor::target::transport`"
            ));
        };
        for (what, name) in [("suite", suite), ("case", case)] {
            if !is_name(name, true) {
                return Err(format!("{text:?}: {what} {name:?} is not a name"));
            }
        }
        let target = TargetKind::ALL
            .into_iter()
            .find(|t| t.as_str() == *target)
            .ok_or_else(|| format!("{text:?}: {target:?} is not a target"))?;
        let via = Via::TRANSPORTS
            .into_iter()
            .chain([Via::None])
            .find(|v| v.as_str() == *via)
            .ok_or_else(|| format!("{text:?}: {via:?} is not a transport"))?;
        Ok(Self {
            suite: (*suite).to_owned(),
            case: (*case).to_owned(),
            processor: ProcessorRef::parse(processor).map_err(|e| format!("{text:?}: {e}"))?,
            target,
            via,
        })
    }
}

impl fmt::Display for TrialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            suite,
            case,
            processor,
            target,
            via,
        } = self;
        write!(
            f,
            "{suite}{SEPARATOR}{case}{SEPARATOR}{processor}{SEPARATOR}{target}{SEPARATOR}{via}"
        )
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const NAME: &str = "contract::http_415::theory/reference@0.1.0::url::http";

    #[test]
    fn a_name_round_trips() {
        let id = TrialId::parse(NAME).unwrap();
        assert_eq!(id.suite, "contract");
        assert_eq!(id.case, "http_415");
        assert_eq!(id.processor.to_string(), "theory/reference@0.1.0");
        assert_eq!(id.target, TargetKind::Url);
        assert_eq!(id.via, Via::Http);
        assert_eq!(id.case_id(), "contract::http_415");
        assert_eq!(id.to_string(), NAME);
        let none = "supply_chain::image_pinned::a/b@1::local::none";
        assert_eq!(TrialId::parse(none).unwrap().to_string(), none);
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "",
            "contract::http_415",
            "golden::unused::theory-reference-0.1.0/contract.envelope__ok.snap",
            "known_failures::stale::contract::*",
            "contract::http_415::theory/reference@0.1.0::url::http::extra",
            "contract::http_415::theory/reference@0.1.0::mars::http",
            "contract::http_415::theory/reference@0.1.0::url::smtp",
            "contract::http_415::not-a-ref::url::http",
            "contract::::theory/reference@0.1.0::url::http",
            "Contract::http_415::theory/reference@0.1.0::url::http",
        ] {
            assert!(TrialId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
