//! Values as the manifest's author wrote them, for messages: a port written
//! `0x510` is quoted `0x510`, not the `1296` the parsed value would print.

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// Where each value of the `[[module]]` and `[[process]]` tables of one
/// file is written (a whole value, and each element of an array value).
#[derive(Default)]
pub struct Written<'a> {
    text: &'a str,
    spans: Vec<(Place, Range<usize>)>,
}

/// A value in a file: table kind (`module`, `process`), the table's index,
/// its key and, for an element of an array, the element's position.
#[derive(PartialEq, Eq)]
struct Place {
    kind: &'static str,
    index: usize,
    key: String,
    position: Option<usize>,
}

impl<'a> Written<'a> {
    /// Indexes `text` (nothing when it is not valid TOML: the parse reports that).
    pub fn parse(text: &'a str) -> Written<'a> {
        let mut written = Written {
            text,
            spans: Vec::new(),
        };
        let Ok(document) = DeTable::parse(text) else {
            return written;
        };
        for kind in ["module", "process"] {
            let Some(DeValue::Array(tables)) = document.get_ref().get(kind).map(|v| v.get_ref())
            else {
                continue;
            };
            for (index, table) in tables.iter().enumerate() {
                let DeValue::Table(table) = table.get_ref() else {
                    continue;
                };
                for (key, value) in table {
                    let place = |position| Place {
                        kind,
                        index,
                        key: key.get_ref().to_string(),
                        position,
                    };
                    written.spans.push((place(None), value.span()));
                    if let DeValue::Array(items) = value.get_ref() {
                        for (position, item) in items.iter().enumerate() {
                            written.spans.push((place(Some(position)), item.span()));
                        }
                    }
                }
            }
        }
        written
    }

    /// The text of `key` (or of its element at `position`) in table `index`
    /// of kind `kind`, as written.
    pub fn text(
        &self,
        kind: &str,
        index: usize,
        key: &str,
        position: Option<usize>,
    ) -> Option<&'a str> {
        let wanted = |place: &Place| {
            place.kind == kind
                && place.index == index
                && place.key == key
                && place.position == position
        };
        let (_, span) = self.spans.iter().find(|(place, _)| wanted(place))?;
        self.text.get(span.clone()).map(str::trim)
    }
}

#[cfg(test)]
mod tests {
    use super::Written;

    #[test]
    fn values_are_quoted_as_written() {
        let text = "[[module]]\nname = \"a\"\nports = [{ base = 0x510, count = 0 }, { base = 96, count = 1 }]\ndma = 0x10000\n\n[[process]]\nname = \"p\"\nkernel_memory = 0o777\n";
        let written = Written::parse(text);
        assert_eq!(
            written.text("module", 0, "ports", Some(0)),
            Some("{ base = 0x510, count = 0 }")
        );
        assert_eq!(
            written.text("module", 0, "ports", Some(1)),
            Some("{ base = 96, count = 1 }")
        );
        assert_eq!(written.text("module", 0, "dma", None), Some("0x10000"));
        assert_eq!(
            written.text("process", 0, "kernel_memory", None),
            Some("0o777")
        );
        assert_eq!(written.text("module", 1, "dma", None), None);
        assert_eq!(
            Written::parse("not toml [").text("module", 0, "dma", None),
            None
        );
    }
}
