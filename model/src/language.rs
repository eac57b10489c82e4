//! Human names of the languages captions come in, for menus and playlist `NAME`s: each in its
//! own language, as players and the Apple HLS authoring guide present them.

/// The name of a BCP 47 tag's primary language (`de-AT` → "Deutsch"); the tag itself when it
/// is not one of the languages Whisper transcribes well.
pub fn language_name(tag: &str) -> String {
    let primary = tag
        .split(['-', '_'])
        .next()
        .unwrap_or(tag)
        .to_ascii_lowercase();
    let name = match primary.as_str() {
        "ar" => "العربية",
        "ca" => "Català",
        "cs" => "Čeština",
        "da" => "Dansk",
        "de" => "Deutsch",
        "el" => "Ελληνικά",
        "en" => "English",
        "es" => "Español",
        "fi" => "Suomi",
        "fr" => "Français",
        "he" => "עברית",
        "hi" => "हिन्दी",
        "hu" => "Magyar",
        "id" => "Bahasa Indonesia",
        "it" => "Italiano",
        "ja" => "日本語",
        "ko" => "한국어",
        "nl" => "Nederlands",
        "no" | "nb" => "Norsk",
        "pl" => "Polski",
        "pt" => "Português",
        "ro" => "Română",
        "ru" => "Русский",
        "sv" => "Svenska",
        "th" => "ไทย",
        "tr" => "Türkçe",
        "uk" => "Українська",
        "vi" => "Tiếng Việt",
        "zh" => "中文",
        "und" => "Unknown language",
        _ => return tag.to_owned(),
    };
    name.to_owned()
}

/// A caption track's label: the language and who made it ("English (auto)").
pub fn track_label(language: &str, origin: &str) -> String {
    format!("{} ({origin})", language_name(language))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_primary_subtag() {
        assert_eq!(language_name("en"), "English");
        assert_eq!(language_name("de-AT"), "Deutsch");
        assert_eq!(language_name("PT_br"), "Português");
        assert_eq!(language_name("tlh"), "tlh");
        assert_eq!(track_label("en", "auto"), "English (auto)");
    }
}
