//! `container_writes`: a local container writes nowhere but under its
//! prefix (CONTRACT.md §7) and the scratch paths its entry declares.
//!
//! After the trial's runs, the engine is asked which paths the container
//! changed in its own file system (`docker diff`; the bind-mounted prefix
//! is not part of it). A change is allowed under the mount or a scratch
//! path, and on a folder above one of them (the engine creates the mount
//! point, a write below `/tmp` changes `/tmp`). The container is shared by
//! the processor's trials, so the diff is of its whole life so far.

use super::super::verdict::{Findings, Verdict};
use super::common::answered;
use super::{Checked, Ctx};
use crate::adapter;

/// How many offending paths a failure lists.
const SHOWN: usize = 20;

/// The container changed nothing outside the mount and the scratch paths.
pub(super) async fn check(ctx: &mut Ctx<'_>) -> Checked {
    let (endpoint, transport) = ctx.wire()?;
    let mut findings = Findings::default();
    // The runs themselves are judged by the other cases; these only write.
    let _ = answered(ctx, &endpoint, transport, &mut findings).await;
    let changes = match adapter::container_changes(&endpoint).await {
        None => {
            return Err(Verdict::skip(
                "not a container the harness started: its file system cannot be asked",
            ));
        }
        Some(Err(e)) => return Err(Verdict::error(format!("docker diff: {e}"))),
        Some(Ok(changes)) => changes,
    };
    let mount = ctx.mount.as_str().trim_end_matches('/');
    let scratch = &ctx.pp.entry.scratch;
    let outside: Vec<&String> = changes
        .iter()
        .filter(|change| {
            let path = change.get(2..).unwrap_or_default();
            !allowed(path, mount, scratch)
        })
        .collect();
    if !outside.is_empty() {
        let shown: Vec<&str> = outside.iter().take(SHOWN).map(|c| c.as_str()).collect();
        let more = outside.len().saturating_sub(SHOWN);
        findings.fail(format!(
            "the container changed {} path(s) outside the prefix's mount {mount}/ and its scratch paths ({}): {}{}",
            outside.len(),
            scratch.join(", "),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    Ok(findings.verdict())
}

/// Whether `path` is under (or is) the mount or a scratch path, or a
/// folder above one of them.
fn allowed(path: &str, mount: &str, scratch: &[String]) -> bool {
    let within = |root: &str| path == root || path.starts_with(&format!("{root}/"));
    let above = |root: &str| path == "/" || root.starts_with(&format!("{path}/"));
    std::iter::once(mount)
        .chain(scratch.iter().map(String::as_str))
        .any(|root| within(root) || above(root))
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn only_the_mount_the_scratch_paths_and_their_parents_are_allowed() {
        let scratch = ["/tmp".to_owned(), "/var/cache/app".to_owned()];
        let mount = "/work/runs/conform-1";
        for ok in [
            "/work",
            "/work/runs",
            "/work/runs/conform-1",
            "/work/runs/conform-1/x/y.txt",
            "/tmp",
            "/tmp/a/b",
            "/var",
            "/var/cache",
            "/var/cache/app/blob",
        ] {
            assert!(allowed(ok, mount, &scratch), "{ok}");
        }
        for bad in [
            "/var/theory-leak",
            "/var/theory-leak/x.txt",
            "/work/runs/conform-10",
            "/tmpfile",
            "/etc/passwd",
            "/var/cache/application",
        ] {
            assert!(!allowed(bad, mount, &scratch), "{bad}");
        }
    }
}
