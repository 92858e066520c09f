//! How many SMS segments a text takes (3GPP TS 23.038): GSM-7 when every character is
//! in the GSM default alphabet or its extension table (which costs two septets each),
//! else UCS-2, counted in UTF-16 code units. One segment holds 160 septets or 70 UCS-2
//! units; a concatenated message gives up a header's worth of each: 153 and 67.

/// The GSM 03.38 default alphabet, one septet each (the escape code excluded).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: an escape septet and one more each.
const EXTENDED: &str = "\u{c}^{}\\[~]|€";

/// How a text is encoded on the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The 7-bit GSM alphabet.
    Gsm7,
    /// UCS-2 (UTF-16 code units).
    Ucs2,
}

impl Encoding {
    /// The units one segment of a single-segment message holds.
    pub const fn single(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// The units each segment of a concatenated message holds.
    pub const fn concatenated(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }
}

/// The encoding `text` needs and its length in that encoding's units.
///
/// ```
/// use voxscope_alerting::channel::gsm::{Encoding, measure};
/// assert_eq!(measure("Price: 5€"), (Encoding::Gsm7, 10));
/// assert_eq!(measure("Zürich ✓"), (Encoding::Ucs2, 8));
/// assert_eq!(measure("🔥"), (Encoding::Ucs2, 2));
/// ```
pub fn measure(text: &str) -> (Encoding, usize) {
    let mut septets = 0;
    for c in text.chars() {
        if BASIC.contains(c) {
            septets += 1;
        } else if EXTENDED.contains(c) {
            septets += 2;
        } else {
            return (Encoding::Ucs2, text.encode_utf16().count());
        }
    }
    (Encoding::Gsm7, septets)
}

/// Segments `text` is sent as.
///
/// ```
/// use voxscope_alerting::channel::gsm::segments;
/// assert_eq!(segments(&"a".repeat(160)), 1);
/// assert_eq!(segments(&"a".repeat(161)), 2);
/// assert_eq!(segments(&"é".repeat(160)), 1); // é is in the GSM alphabet
/// assert_eq!(segments(&"ą".repeat(70)), 1);
/// assert_eq!(segments(&"ą".repeat(71)), 2);
/// ```
pub fn segments(text: &str) -> usize {
    let (encoding, units) = measure(text);
    if units <= encoding.single() { 1 } else { units.div_ceil(encoding.concatenated()) }
}

/// Typographic characters replaced by their GSM look-alikes, as Twilio's Smart Encoding
/// does, so that one curly quote does not halve what a segment holds.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => out.push('\''),
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => out.push('"'),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{a0}' | '\u{2009}' | '\u{202f}' => out.push(' '),
            '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_table_costs_two_septets_and_splits_at_153() {
        // 80 braces are 160 septets: one segment; 81 are 162, split into 153 + 9.
        assert_eq!(measure(&"{".repeat(80)), (Encoding::Gsm7, 160));
        assert_eq!(segments(&"{".repeat(80)), 1);
        assert_eq!(segments(&"{".repeat(81)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        assert_eq!(segments(&"ą".repeat(134)), 2);
        assert_eq!(segments(&"ą".repeat(135)), 3);
    }

    #[test]
    fn one_character_outside_the_alphabet_makes_it_all_ucs2() {
        let text = format!("{}✓", "a".repeat(69));
        assert_eq!(measure(&text), (Encoding::Ucs2, 70));
        assert_eq!(segments(&format!("{text}a")), 2);
    }

    #[test]
    fn smart_punctuation_falls_back_to_gsm() {
        let text = plain("It\u{2019}s \u{201c}down\u{201d} \u{2014} again\u{2026}");
        assert_eq!(text, "It's \"down\" - again...");
        assert_eq!(measure(&text).0, Encoding::Gsm7);
    }
}
