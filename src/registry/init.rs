//! `theory-conform init <ns/name@version>`: the start of a processor
//! author's certification (docs/processor-authors.md). It writes, in a
//! folder (the current one by default):
//!
//! - `registry.yaml`: one entry, commented, to edit;
//! - `fixtures/<name>/{valid,invalid,crash}/`: one example input each,
//!   for a processor whose inputs are `{"schema":"v1","params":{"text":...}}`
//!   (the shape of the bundled processors'), to replace with the
//!   processor's own.
//!
//! **Invariant:** nothing an author wrote is overwritten (an existing
//! registry file or fixtures folder is refused before anything is
//! written), and what is written loads: the registry is checked by the
//! loader, and a refusal removes what `init` created.

use std::path::{Path, PathBuf};

use super::{ProcessorRef, Registry, TagPolicy};

/// The arguments of `theory-conform init`.
#[derive(Clone, Debug, clap::Args)]
pub struct Init {
    /// The processor, `ns/name@version`.
    #[arg(value_name = "NS/NAME@VERSION")]
    pub processor: String,
    /// Where it answers: a `url` target (https, or plain http on loopback)
    /// [default: http://127.0.0.1:8000/ unless --image is given].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Its image, pinned by digest (`repo@sha256:<hex>`): a `local` target.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// The folder to write in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// The example fixtures: kind, file name, content.
const FIXTURES: [(&str, &str, &str); 3] = [
    (
        "valid",
        "example.json",
        "{\"schema\":\"v1\",\"params\":{\"text\":\"hello, world\"}}\n",
    ),
    (
        "invalid",
        "missing-text.json",
        "{\"schema\":\"v1\",\"params\":{}}\n",
    ),
    (
        "crash",
        "crash.json",
        "{\"schema\":\"v1\",\"params\":{\"text\":\"__crash__\"}}\n",
    ),
];

/// Writes the registry and the fixtures; what was written, one path per
/// line, for stdout. `Err` is a usage error (exit 2), nothing left behind.
pub fn init(request: &Init) -> Result<String, String> {
    let name = ProcessorRef::parse(&request.processor)?;
    let short = request
        .processor
        .split_once('/')
        .and_then(|(_, rest)| rest.split_once('@'))
        .map_or("processor", |(short, _)| short)
        .to_owned();
    let registry = request.dir.join("registry.yaml");
    let fixtures = PathBuf::from("fixtures").join(&short);
    let fixtures_dir = request.dir.join(&fixtures);
    for path in [&registry, &fixtures_dir] {
        if path.exists() {
            return Err(format!(
                "{} exists: init writes only new files (use --dir for another folder)",
                path.display()
            ));
        }
    }
    let text = registry_text(&name.to_string(), request, &fixtures);
    for (kind, file, content) in FIXTURES {
        let folder = fixtures_dir.join(kind);
        let written = std::fs::create_dir_all(&folder)
            .and_then(|()| std::fs::write(folder.join(file), content));
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&fixtures_dir);
            return Err(format!("{}: {e}", folder.display()));
        }
    }
    let checked = Registry::parse(
        &text,
        &registry.display().to_string(),
        &request.dir,
        TagPolicy::RequireDigest,
    );
    if let Err(e) = checked {
        let _ = std::fs::remove_dir_all(&fixtures_dir);
        return Err(e.to_string());
    }
    if let Err(e) = std::fs::write(&registry, &text) {
        let _ = std::fs::remove_dir_all(&fixtures_dir);
        return Err(format!("{}: {e}", registry.display()));
    }
    let mut out = format!("{}\n", registry.display());
    for (kind, file, _) in FIXTURES {
        out.push_str(&format!(
            "{}\n",
            fixtures_dir.join(kind).join(file).display()
        ));
    }
    Ok(out)
}

/// The registry's text: one entry, each field with what it is for.
fn registry_text(name: &str, request: &Init, fixtures: &Path) -> String {
    let url = match (&request.url, &request.image) {
        (Some(url), _) => Some(url.as_str()),
        (None, Some(_)) => None,
        (None, None) => Some("http://127.0.0.1:8000/"),
    };
    let mut out = format!(
        "# A theory-conform registry (docs/registry.md), written by\n\
         # `theory-conform init {name}`. Edit it, then certify\n\
         # (docs/processor-authors.md):\n\
         #   theory-conform --lane pr --registry registry.yaml{}\n\
         version: 1\n\
         processors:\n  {name}:\n",
        if url.is_some() && request.image.is_none() {
            " --target url"
        } else {
            ""
        }
    );
    out.push_str(
        "    # Where it runs: `image` (pinned by digest) is the `local` target, a\n\
         \x20   # container the harness starts; `url` (https, or plain http on\n\
         \x20   # loopback) is a processor already running.\n",
    );
    match &request.image {
        Some(image) => out.push_str(&format!("    image: {image}\n")),
        None => out.push_str("    # image: registry.example/acme/hello@sha256:<64 hex>\n"),
    }
    if let Some(url) = url {
        out.push_str(&format!(
            "    url: {url}\n\
             \x20   # Where the harness reads what the url target writes: `shared`\n\
             \x20   # (it runs on this machine and writes under the write prefix on\n\
             \x20   # its disk), `none` (it shares nothing but the network) or\n\
             \x20   # `storage` (the storage hand-over, CONTRACT.md §7).\n\
             \x20   artifacts: {{url: shared}}\n"
        ));
    }
    out.push_str(&format!(
        "    # WebSocket and HTTP are required; drop `sse` if it serves no /run-stream.\n\
         \x20   transports: [ws, http, sse]\n\
         \x20   health: 12s\n\
         \x20   run_timeout: 30s\n\
         \x20   # valid/ inputs must succeed, invalid/ must give ERR_INPUTS, crash/\n\
         \x20   # must give ERR_INTERNAL (HTTP 500): replace the examples with yours.\n\
         \x20   fixtures: {}\n",
        fixtures.display()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path) -> Init {
        Init {
            processor: "acme/hello@0.1.0".to_owned(),
            url: None,
            image: None,
            dir: dir.to_path_buf(),
        }
    }

    #[test]
    fn init_writes_a_registry_that_loads_and_three_example_fixtures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = init(&request(dir.path())).expect("init");
        assert_eq!(written.lines().count(), 4, "{written}");
        let registry = Registry::load(&dir.path().join("registry.yaml"), TagPolicy::RequireDigest)
            .expect("loads");
        let entry = registry.processors.values().next().expect("one entry");
        assert_eq!(entry.fixtures.valid.len(), 1);
        assert_eq!(entry.fixtures.invalid.len(), 1);
        assert_eq!(entry.fixtures.crash.len(), 1);
        let text = std::fs::read_to_string(dir.path().join("registry.yaml")).expect("text");
        assert!(text.contains("url: http://127.0.0.1:8000/"), "{text}");
        assert!(
            text.contains("--lane pr --registry registry.yaml --target url"),
            "{text}"
        );
    }

    #[test]
    fn init_overwrites_nothing_and_leaves_nothing_when_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("registry.yaml"), "mine").expect("write");
        let refused = init(&request(dir.path())).expect_err("exists");
        assert!(refused.contains("registry.yaml exists"), "{refused}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("registry.yaml")).expect("kept"),
            "mine"
        );
        let other = tempfile::tempdir().expect("tempdir");
        let bad = Init {
            url: Some("http://example.com/".to_owned()),
            ..request(other.path())
        };
        let refused = init(&bad).expect_err("plain http off loopback");
        assert!(refused.contains("url"), "{refused}");
        assert!(!other.path().join("fixtures").join("hello").exists());
        assert!(!other.path().join("registry.yaml").exists());
    }

    #[test]
    fn an_image_entry_is_a_local_target_without_a_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digest = format!("127.0.0.1:5000/acme/hello@sha256:{}", "a".repeat(64));
        init(&Init {
            image: Some(digest.clone()),
            ..request(dir.path())
        })
        .expect("init");
        let text = std::fs::read_to_string(dir.path().join("registry.yaml")).expect("text");
        assert!(text.contains(&format!("image: {digest}")), "{text}");
        assert!(!text.contains("\n    url:"), "{text}");
        assert!(!text.contains("--target url"), "{text}");
    }
}
