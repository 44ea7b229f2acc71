//! `image_pinned`: the image is pinned by digest.

use super::super::verdict::Verdict;
use super::{Checked, Ctx};

/// The registry entry's image names a digest.
pub(super) fn check(ctx: &Ctx<'_>) -> Checked {
    let Some(image) = ctx.pp.entry.image.as_ref() else {
        return Err(Verdict::skip("no image in the registry entry"));
    };
    if image.digest().is_some() {
        return Ok(Verdict::Pass);
    }
    Ok(Verdict::fail(format!(
        "image {image} is pinned by tag; pin it by digest (`repo@sha256:<hex>`, CONTRACT.md §8)"
    )))
}
