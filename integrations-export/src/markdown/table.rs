//! Tables as aligned text: Slack's mrkdwn has no tables, and a wide, mostly
//! empty table is cheaper to read (and to send) as text.

/// How much more than the cells' own text an aligned table may take; past
/// it, columns are separated but not padded.
const PADDING_AT_MOST: usize = 4;

/// `rows` (the first one the header) as lines of text: columns padded to
/// their widest cell and a rule under the header, unless the padding would
/// make the text more than a few times the cells' own (one long cell over
/// many rows, a wide header over short rows); then cells are only
/// separated, and a row's trailing empty cells are left out. Either way the
/// text is linear in the cells' text and the number of rows.
pub(super) fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    let mut text = 0;
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            let chars = cell.chars().count();
            widths[c] = widths[c].max(chars);
            if chars > 0 {
                text += chars + 3;
            }
        }
    }
    let padded = rows
        .len()
        .saturating_mul(widths.iter().sum::<usize>() + 3 * columns);
    let pad = padded <= PADDING_AT_MOST * (text + rows.len()) + 1024;
    let mut lines = Vec::with_capacity(rows.len() + 1);
    for (i, row) in rows.iter().enumerate() {
        let line = if pad {
            let cells: Vec<String> = (0..columns)
                .map(|c| {
                    let cell = row.get(c).map(String::as_str).unwrap_or_default();
                    format!("{cell:<width$}", width = widths[c])
                })
                .collect();
            cells.join(" | ").trim_end().to_owned()
        } else {
            let used = row
                .iter()
                .rposition(|cell| !cell.is_empty())
                .map_or(0, |last| last + 1);
            row[..used].join(" | ")
        };
        lines.push(line);
        if i == 0 {
            let rule: Vec<String> = if pad {
                widths.iter().map(|w| "-".repeat((*w).max(1))).collect()
            } else {
                vec!["-".to_owned(); row.len().min(lines[0].len()).max(1)]
            };
            lines.push(rule.join("-+-"));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
            .collect()
    }

    #[test]
    fn small_tables_are_aligned() {
        assert_eq!(
            aligned(&rows(&[&["a", "long b"], &["1", "2"]])),
            "a | long b\n--+-------\n1 | 2"
        );
    }

    #[test]
    fn padding_that_would_dwarf_the_text_is_left_out() {
        let long = "w".repeat(3000);
        let mut table = vec![vec![long.clone(), "b".to_owned()]];
        table.extend((0..500).map(|_| vec!["x".to_owned(), String::new()]));
        let text = aligned(&table);
        assert!(text.len() < 3000 + 500 * 4 + 100, "{}", text.len());
        assert!(text.starts_with(&format!("{long} | b\n")));
        assert!(text.ends_with("\nx"), "trailing empty cells are left out");
    }
}
