//! `theory-conform registry render` and `registry env`: one processor's
//! entry, taken from a registry file (or the embedded one) and changed by
//! typed values, for scripts that would otherwise rewrite YAML or read it
//! with text tools (`ci/certify`).
//!
//! **Invariant:** the output is a [`Document`] serialized by serde, and it
//! is checked by the resolving stage before it is printed, so a rendered
//! registry always loads.

use std::path::{Path, PathBuf};

use super::{Document, EMBEDDED, EMBEDDED_NAME, ProcessorRef, Registry, TagPolicy};

/// What to render: the source, the processor, and the fields to set (the
/// arguments of `theory-conform registry render`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Render {
    /// The source registry [default: the embedded one].
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// The processor, `ns/name@version` (the others are dropped).
    #[arg(long, value_name = "NS/NAME@VER")]
    pub processor: String,
    /// Sets `url`.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Sets `ca_file`.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Sets `image`.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Sets `expected_oci`.
    #[arg(long, value_name = "REF")]
    pub expected_oci: Option<String>,
    /// Sets where a target's artifacts are read from, e.g. `url=storage`
    /// (repeatable).
    #[arg(long, value_name = "TARGET=SOURCE")]
    pub artifacts: Vec<String>,
    /// Sets `storage.endpoint` (the entry must have a `storage` section).
    #[arg(long, value_name = "URL")]
    pub storage_endpoint: Option<String>,
}

/// The source document and the folder its relative paths resolve against.
fn source(registry: Option<&Path>) -> Result<(Document, PathBuf, String), String> {
    match registry {
        Some(path) => {
            let doc = Document::load(path).map_err(|e| e.to_string())?;
            let base = path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            Ok((doc, base, path.display().to_string()))
        }
        None => Ok((
            Document::parse(EMBEDDED, EMBEDDED_NAME).map_err(|e| e.to_string())?,
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            EMBEDDED_NAME.to_owned(),
        )),
    }
}

/// The rendered registry's YAML; `Err` is a configuration error (exit 2).
pub fn render(request: &Render) -> Result<String, String> {
    let (doc, base, origin) = source(request.registry.as_deref())?;
    let name = ProcessorRef::parse(&request.processor).map_err(|m| format!("--processor: {m}"))?;
    let mut entry = doc
        .processors
        .get(&request.processor)
        .cloned()
        .ok_or_else(|| format!("{name} is not in {origin}"))?;
    let absolute = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
    entry.fixtures = entry.fixtures.map(absolute);
    entry.ca_file = request.ca_file.clone().or(entry.ca_file).map(absolute);
    if let Some(url) = &request.url {
        entry.url = Some(url.clone());
    }
    if let Some(image) = &request.image {
        entry.image = Some(image.clone());
    }
    if let Some(expected) = &request.expected_oci {
        entry.expected_oci = Some(expected.clone());
    }
    for pair in &request.artifacts {
        let (target, source) = pair.split_once('=').ok_or_else(|| {
            format!("--artifacts {pair:?}: write TARGET=SOURCE, e.g. url=storage")
        })?;
        entry.artifacts.insert(target.to_owned(), source.to_owned());
    }
    if let Some(endpoint) = &request.storage_endpoint {
        let storage = entry.storage.as_mut().ok_or_else(|| {
            format!("--storage-endpoint: {name} has no `storage` section in {origin}")
        })?;
        storage.endpoint = endpoint.clone();
    }
    let text = Document::new().processor(name.to_string(), entry).to_yaml();
    Registry::parse(&text, "<rendered registry>", &base, TagPolicy::AllowTags)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

/// The value of `key` in the `env` of `processor`'s entry.
pub fn env_value(registry: Option<&Path>, processor: &str, key: &str) -> Result<String, String> {
    let (doc, _, origin) = source(registry)?;
    let entry = doc
        .processors
        .get(processor)
        .ok_or_else(|| format!("{processor} is not in {origin}"))?;
    entry
        .env
        .get(key)
        .cloned()
        .ok_or_else(|| format!("{processor} in {origin} sets no env {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "theory/reference@0.1.0";

    /// Any existing file will do: the loader checks that a CA file exists.
    const CA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");

    #[test]
    fn a_missing_ca_file_does_not_render() {
        let missing = render(&Render {
            processor: NAME.to_owned(),
            url: Some("https://127.0.0.1:8443/".to_owned()),
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..Render::default()
        });
        assert!(
            missing
                .expect_err("missing")
                .contains("ca_file: /nonexistent/ca.pem")
        );
    }

    #[test]
    fn the_embedded_entry_renders_with_new_values_and_absolute_paths() {
        let text = render(&Render {
            processor: NAME.to_owned(),
            url: Some("https://127.0.0.1:8443/".to_owned()),
            ca_file: Some(PathBuf::from(CA_FILE)),
            ..Render::default()
        })
        .expect("renders");
        let doc = Document::parse(&text, "t").expect("parses");
        let entry = &doc.processors[NAME];
        assert_eq!(entry.url.as_deref(), Some("https://127.0.0.1:8443/"));
        assert_eq!(entry.ca_file.as_deref(), Some(Path::new(CA_FILE)));
        let fixtures = entry.fixtures.as_deref().expect("fixtures");
        assert!(
            fixtures.is_absolute() && fixtures.ends_with("fixtures/reference-processor/inputs")
        );
        let embedded = Document::parse(EMBEDDED, "e").expect("parses");
        assert_eq!(entry.image, embedded.processors[NAME].image);
    }

    #[test]
    fn unknown_processors_and_invalid_values_are_refused() {
        let unknown = Render {
            processor: "theory/nope@1".to_owned(),
            ..Render::default()
        };
        assert!(render(&unknown).expect_err("unknown").contains("is not in"));
        let bad_url = Render {
            processor: NAME.to_owned(),
            url: Some("ftp://example.com/".to_owned()),
            ..Render::default()
        };
        assert!(render(&bad_url).is_err());
    }

    #[test]
    fn a_target_is_pointed_at_the_entrys_store() {
        let text = render(&Render {
            processor: NAME.to_owned(),
            url: Some("https://127.0.0.1:8443/".to_owned()),
            artifacts: vec!["url=storage".to_owned()],
            storage_endpoint: Some("http://127.0.0.1:9123/".to_owned()),
            ..Render::default()
        })
        .expect("renders");
        let doc = Document::parse(&text, "t").expect("parses");
        let entry = &doc.processors[NAME];
        assert_eq!(
            entry.artifacts.get("url").map(String::as_str),
            Some("storage")
        );
        let storage = entry.storage.as_ref().expect("storage");
        assert_eq!(storage.endpoint, "http://127.0.0.1:9123/");
        for (artifacts, endpoint) in [
            (vec!["url"], None),
            (vec!["url=s3"], None),
            (vec![], Some("ftp://127.0.0.1/")),
        ] {
            let refused = render(&Render {
                processor: NAME.to_owned(),
                artifacts: artifacts.iter().map(|a| (*a).to_owned()).collect(),
                storage_endpoint: endpoint.map(str::to_owned),
                ..Render::default()
            });
            assert!(refused.is_err(), "{artifacts:?} {endpoint:?}: {refused:?}");
        }
    }

    #[test]
    fn env_values_come_from_the_entry() {
        assert_eq!(
            env_value(None, NAME, "THEORY_ENV_FINGERPRINT").as_deref(),
            Ok("cpu:1;memory:512Mi;platform:amd64;runtime:container")
        );
        assert!(env_value(None, NAME, "NOPE").is_err());
        assert!(env_value(None, "theory/nope@1", "X").is_err());
    }
}
