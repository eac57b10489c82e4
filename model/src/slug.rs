//! URL slugs for talks and speakers: lowercase ASCII letters, digits and single hyphens.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a slug cannot be empty")]
    Empty,
    #[error("a slug is at most {max} characters")]
    TooLong { max: usize },
    #[error("a slug may contain only a–z, 0–9 and single hyphens, not at either end")]
    InvalidCharacters,
}

pub const MAX_SLUG_LEN: usize = 96;

/// Makes a slug from free text: "Rust at 60 FPS — Lessons!" → "rust-at-60-fps-lessons".
/// Non-ASCII letters are dropped rather than transliterated; an empty result is an error the
/// caller reports (for example a title made only of emoji).
pub fn slugify(text: &str) -> Result<String, SlugError> {
    let mut slug = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.len() > MAX_SLUG_LEN {
        slug.truncate(MAX_SLUG_LEN);
        while slug.ends_with('-') {
            slug.pop();
        }
    }
    validate(&slug).map(|()| slug)
}

/// Checks a slug that came from a URL or a form.
pub fn validate(slug: &str) -> Result<(), SlugError> {
    if slug.is_empty() {
        return Err(SlugError::Empty);
    }
    if slug.len() > MAX_SLUG_LEN {
        return Err(SlugError::TooLong { max: MAX_SLUG_LEN });
    }
    let well_formed = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if well_formed {
        Ok(())
    } else {
        Err(SlugError::InvalidCharacters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugify_examples() {
        assert_eq!(
            slugify("Rust at 60 FPS — Lessons!").unwrap(),
            "rust-at-60-fps-lessons"
        );
        assert_eq!(slugify("  --Hello__World--  ").unwrap(), "hello-world");
        assert_eq!(slugify("🎥🎥"), Err(SlugError::Empty));
    }

    #[test]
    fn validate_rejects_hostile_input() {
        assert_eq!(validate("../etc/passwd"), Err(SlugError::InvalidCharacters));
        assert_eq!(validate("a--b"), Err(SlugError::InvalidCharacters));
        assert_eq!(validate("-a"), Err(SlugError::InvalidCharacters));
        assert_eq!(validate("<script>"), Err(SlugError::InvalidCharacters));
        assert_eq!(
            validate(&"a".repeat(97)),
            Err(SlugError::TooLong { max: 96 })
        );
        assert_eq!(validate("ok-slug-2"), Ok(()));
    }

    proptest! {
        #[test]
        fn slugify_output_is_always_valid(text in ".{0,300}") {
            if let Ok(slug) = slugify(&text) {
                prop_assert_eq!(validate(&slug), Ok(()));
            }
        }
    }
}
