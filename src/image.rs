//! Image references: `repository@sha256:<hex>` (pinned) or
//! `repository:tag` (dev lane only), parsed once for the registry and the
//! local adapter alike.

use theory_contract::Digest;

/// An image reference: `repository@sha256:<hex>` or `repository:tag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (optional) and path, e.g. `127.0.0.1:5000/theory/reference-processor`.
    pub repository: String,
    /// What pins it.
    pub pin: Pin,
}

/// How an image reference is pinned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// By content: reproducible.
    Digest(Digest),
    /// By tag: mutable, for the dev lane only (CONTRACT.md §8).
    Tag(String),
}

impl ImageRef {
    /// Parses `repo@sha256:<hex>` or `repo:tag`; a bare `repo` is refused
    /// (it would silently mean `:latest`).
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some((repository, digest)) = s.split_once('@') {
            let digest = Digest::parse(digest).map_err(|e| format!("{s:?}: {e}"))?;
            return Self::checked(repository, Pin::Digest(digest), s);
        }
        let colon = s.rfind(':').filter(|&i| !s[i..].contains('/'));
        match colon {
            Some(i) if i + 1 < s.len() => {
                Self::checked(&s[..i], Pin::Tag(s[i + 1..].to_owned()), s)
            }
            Some(_) | None => Err(format!(
                "{s:?} names no tag or digest; pin it as `repo@sha256:<hex>`"
            )),
        }
    }

    fn checked(repository: &str, pin: Pin, whole: &str) -> Result<Self, String> {
        let ok = !repository.is_empty()
            && !repository.starts_with('/')
            && !repository.ends_with('/')
            && repository
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b));
        if ok {
            Ok(Self {
                repository: repository.to_owned(),
                pin,
            })
        } else {
            Err(format!("{whole:?} has an invalid repository name"))
        }
    }

    /// The digest, when pinned by one.
    pub fn digest(&self) -> Option<&Digest> {
        match &self.pin {
            Pin::Digest(d) => Some(d),
            Pin::Tag(_) => None,
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.pin {
            Pin::Digest(d) => write!(f, "{}@{d}", self.repository),
            Pin::Tag(t) => write!(f, "{}:{t}", self.repository),
        }
    }
}

impl ImageRef {
    /// The (name, tag) pair testcontainers builds `name:tag` from: a pinned
    /// reference becomes `repo@sha256` + `<hex>`, so the engine sees
    /// `repo@sha256:<hex>`.
    pub fn name_and_tag(&self) -> (String, String) {
        match &self.pin {
            Pin::Digest(d) => (format!("{}@sha256", self.repository), d.hex().to_owned()),
            Pin::Tag(t) => (self.repository.clone(), t.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn pinned_references_become_name_at_sha256_and_hex_tag() {
        let hex = "ab".repeat(32);
        let r = ImageRef::parse(&format!("127.0.0.1:5000/theory/p@sha256:{hex}")).unwrap();
        assert_eq!(
            r.name_and_tag(),
            ("127.0.0.1:5000/theory/p@sha256".to_owned(), hex.clone())
        );
        assert_eq!(r.repository, "127.0.0.1:5000/theory/p");
        assert_eq!(r.digest().map(Digest::hex), Some(hex.as_str()));
        assert_eq!(
            r.to_string(),
            format!("127.0.0.1:5000/theory/p@sha256:{hex}")
        );
    }

    #[test]
    fn tagged_references_keep_registry_ports() {
        let r = ImageRef::parse("127.0.0.1:5000/theory/p:0.1.0").unwrap();
        assert_eq!(
            r.name_and_tag(),
            ("127.0.0.1:5000/theory/p".to_owned(), "0.1.0".to_owned())
        );
        assert_eq!(r.digest(), None);
    }

    #[test]
    fn malformed_or_bare_references_are_refused() {
        for bad in [
            "",
            "repo@sha256:short",
            "repo:",
            "a b",
            "127.0.0.1:5000/theory/p",
            "Repo:1",
            "/p:1",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }
}
