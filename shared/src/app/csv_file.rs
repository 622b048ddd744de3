//! CSV files as Excel writes them: UTF-8 with or without a BOM, or Shift_JIS (CP932) as Excel in Japan
//! saves by default. Decoded once, then read by header name with the file's line numbers kept.

use std::collections::HashMap;

use crate::app::AppError;

/// Decodes the bytes: a UTF-8 BOM is dropped; valid UTF-8 is taken as is; anything else must be CP932.
pub fn decode(bytes: &[u8]) -> Result<String, AppError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_owned());
    }
    // WHATWG's Shift_JIS is Microsoft's CP932 (NEC and IBM extensions included).
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    if had_errors {
        return Err(AppError::invalid(
            "file",
            "the file is neither UTF-8 nor Shift_JIS (CP932); save it as CSV UTF-8 from Excel",
        ));
    }
    Ok(text.into_owned())
}

/// One data row: its line in the file and its cells by column name.
pub struct Row {
    pub line: u64,
    cells: HashMap<String, String>,
}

impl Row {
    /// The cell of a column, trimmed; empty when the column is absent or the row is short.
    pub fn get(&self, column: &str) -> &str {
        self.cells.get(column).map(|s| s.trim()).unwrap_or("")
    }
}

/// Reads rows after a header row. The header must hold the `required` columns (any order, any case);
/// other columns must be among `optional`. Blank lines are skipped.
pub fn rows(text: &str, required: &[&str], optional: &[&str]) -> Result<Vec<Row>, AppError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::invalid("file", format!("unreadable header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let expected = || [required, optional].concat().join(",");
    for r in required {
        if !headers.iter().any(|h| h == r) {
            return Err(AppError::invalid(
                "file",
                format!(
                    "the header row needs the column {r:?}; expected {}",
                    expected()
                ),
            ));
        }
    }
    if let Some(h) = headers.iter().find(|h| {
        !h.is_empty() && !required.contains(&h.as_str()) && !optional.contains(&h.as_str())
    }) {
        return Err(AppError::invalid(
            "file",
            format!("unknown column {h:?}; expected {}", expected()),
        ));
    }
    let mut out = Vec::new();
    // The reader's own line number counts a skipped blank line as part of the next record; count
    // newlines up to the record's first character instead (incrementally, so a big file stays linear).
    let bytes = text.as_bytes();
    let (mut at, mut line) = (0usize, 1u64);
    for record in reader.records() {
        let record =
            record.map_err(|e| AppError::invalid("file", format!("unreadable CSV: {e}")))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut start = record
            .position()
            .map(|p| p.byte() as usize)
            .unwrap_or(at)
            .min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        line += bytes[at.min(start)..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        at = start;
        let cells = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        out.push(Row { line, cells });
    }
    Ok(out)
}

/// Whether a cell would be taken for a formula by a spreadsheet (`= + - @`, tab, CR at the start).
/// Such values are stored as the text they are; anything that writes them back to a CSV must escape them
/// (see [`escape_for_spreadsheet`]).
pub fn looks_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The OWASP escape for CSV injection: a leading apostrophe makes a spreadsheet show the text.
pub fn escape_for_spreadsheet(cell: &str) -> String {
    if looks_like_formula(cell) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The encodings a CSV can be written in for Excel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcelEncoding {
    /// UTF-8 with a byte-order mark, which Excel needs to read UTF-8 (Excel 2016 and later).
    Utf8Bom,
    /// Shift_JIS as Microsoft writes it (CP932), what older Excel in Japan expects.
    Cp932,
}

/// Writes a CSV that Excel opens as written: a header row, then the rows, each cell escaped
/// ([`escape_for_spreadsheet`]), CRLF line ends. CP932 cannot write every character (an emoji, some rare
/// kanji): such a file is refused with the 1-based data row that holds one, never written with a `?`.
pub fn write_for_excel(
    header: &[&str],
    rows: &[Vec<String>],
    encoding: ExcelEncoding,
) -> Result<Vec<u8>, AppError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let fail = |e: csv::Error| AppError::Internal(e.into());
    w.write_record(header).map_err(fail)?;
    for row in rows {
        w.write_record(row.iter().map(|c| escape_for_spreadsheet(c)))
            .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(e.into_error().into()))?;
    // The writer was given `&str` cells only.
    let text = String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))?;
    match encoding {
        ExcelEncoding::Utf8Bom => {
            let mut out = b"\xEF\xBB\xBF".to_vec();
            out.extend_from_slice(text.as_bytes());
            Ok(out)
        }
        ExcelEncoding::Cp932 => {
            let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
            if !unmappable {
                return Ok(bytes.into_owned());
            }
            let row = rows
                .iter()
                .position(|r| r.iter().any(|c| encoding_rs::SHIFT_JIS.encode(c).2))
                .map_or(0, |i| i + 1);
            Err(AppError::invalid(
                "encoding",
                format!(
                    "row {row} holds a character Shift_JIS (CP932) cannot write; download the file as UTF-8"
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_for_excel_escapes_formulas_and_reads_back_in_both_encodings() {
        let rows = vec![
            vec!["山田 太郎".to_owned(), "=HYPERLINK(\"x\")".to_owned()],
            vec!["髙橋, 花子".to_owned(), "-1".to_owned()],
        ];
        for enc in [ExcelEncoding::Utf8Bom, ExcelEncoding::Cp932] {
            let bytes = write_for_excel(&["name", "note"], &rows, enc).unwrap();
            assert_eq!(
                bytes.starts_with(b"\xEF\xBB\xBF"),
                enc == ExcelEncoding::Utf8Bom
            );
            let text = decode(&bytes).unwrap();
            assert_eq!(
                text,
                "name,note\r\n山田 太郎,\"'=HYPERLINK(\"\"x\"\")\"\r\n\"髙橋, 花子\",'-1\r\n"
            );
        }
        let emoji = vec![vec!["a".to_owned()], vec!["🎉".to_owned()]];
        let e = write_for_excel(&["name"], &emoji, ExcelEncoding::Cp932).unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
        assert!(write_for_excel(&["name"], &emoji, ExcelEncoding::Utf8Bom).is_ok());
    }

    #[test]
    fn utf8_with_bom_and_cp932_decode_to_the_same_text() {
        let text = "name,email\n山田 太郎,taro@example.jp\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode(&sjis).unwrap(), text);
        assert_eq!(decode(&bom).unwrap(), text);
        assert_eq!(decode(text.as_bytes()).unwrap(), text);
        assert!(decode(&[0x82, 0xff, 0xff]).is_err());
    }

    #[test]
    fn rows_keep_their_line_numbers_and_headers_are_checked() {
        let rows = rows(
            "Name,EMAIL\n\na,b\n\"multi\nline\",c\nd\n",
            &["name"],
            &["email"],
        )
        .unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 4, 6]);
        assert_eq!(
            (
                rows[0].get("name"),
                rows[0].get("email"),
                rows[2].get("email")
            ),
            ("a", "b", "")
        );
        assert!(super::rows("nom\nx\n", &["name"], &[]).is_err());
        assert!(super::rows("name,extra\nx,y\n", &["name"], &[]).is_err());
    }

    #[test]
    fn formula_cells_are_recognised_and_escaped() {
        assert!(
            looks_like_formula("=HYPERLINK(\"x\")")
                && looks_like_formula("-2+3")
                && !looks_like_formula("山田")
        );
        assert_eq!(escape_for_spreadsheet("@SUM(A1)"), "'@SUM(A1)");
    }
}
