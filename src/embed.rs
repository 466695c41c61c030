//! Static word-piece vectors (`[embeddings]`, usually `embeddings.toml`): one vector
//! per piece of a word-piece vocabulary, distilled from a sentence encoder by
//! `tools/distill_embeddings.py`. A message's vector is the mean of its pieces'
//! vectors, scaled to unit length; the linear model reads it beside words and
//! characters (features `e:0`, `e:1`…), so that words it never saw in training
//! still count through their neighbours ("parcel" near "package").
//!
//! Words are cut into pieces as BERT's uncased tokenizer does: each ASCII
//! punctuation mark is a piece of its own, and each run of letters and digits is
//! split greedily into the longest known pieces from its start, a continuation
//! written with `##` (`unboxing` → `un`, `##box`, `##ing`). A run that cannot be
//! cut entirely into known pieces is left out, as BERT would read it as unknown.

use base64::Engine as _;
use rustc_hash::FxHashMap;

/// The longest run of letters and digits cut into pieces; longer ones are left
/// out (BERT's limit).
const MAX_RUN: usize = 100;

/// The most components a table may have.
pub const MAX_DIMS: usize = 4_096;

/// A table of piece vectors.
#[derive(Debug)]
pub struct Embeddings {
    dims: usize,
    /// Piece → row.
    rows: FxHashMap<String, u32>,
    /// Per row, the scale of its bytes.
    scales: Vec<f32>,
    /// Row-major, `dims` per row.
    bytes: Vec<i8>,
    /// The longest piece, in bytes (`##` included).
    longest: usize,
}

impl Embeddings {
    /// A table of `dims` components from (piece, scale, bytes) rows.
    pub fn new(dims: usize, rows: Vec<(String, f32, Vec<i8>)>) -> Embeddings {
        let mut table = Embeddings {
            dims,
            rows: FxHashMap::default(),
            scales: Vec::with_capacity(rows.len()),
            bytes: Vec::with_capacity(rows.len() * dims),
            longest: 0,
        };
        for (piece, scale, bytes) in rows {
            debug_assert_eq!(bytes.len(), dims);
            table.longest = table.longest.max(piece.len());
            table
                .rows
                .insert(piece, u32::try_from(table.scales.len()).unwrap_or(u32::MAX));
            table.scales.push(scale);
            table.bytes.extend(bytes);
        }
        table
    }

    /// The number of components of a vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The number of pieces.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Whether the table has no pieces.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// Parses one stored vector, `"scale base64"`: a scale, then `dims` signed
    /// bytes in standard base64.
    pub fn parse_vector(text: &str, dims: usize) -> Result<(f32, Vec<i8>), String> {
        let (scale, data) = text
            .split_once(' ')
            .ok_or_else(|| "expected a scale, a space, then base64 bytes".to_string())?;
        let scale: f32 = scale
            .parse()
            .map_err(|_| format!("the scale {scale:?} is not a number"))?;
        if !scale.is_finite() || scale <= 0.0 {
            return Err(format!("the scale {scale} is not a positive number"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| format!("the bytes are not base64: {e}"))?;
        if bytes.len() != dims {
            return Err(format!(
                "{} bytes where the table has {dims} dimensions",
                bytes.len()
            ));
        }
        Ok((scale, bytes.into_iter().map(|b| b as i8).collect()))
    }

    /// The rows of the pieces of `word`, in order, appended to `out`.
    fn pieces(&self, word: &str, buf: &mut String, out: &mut Vec<u32>) {
        let mut rest = word;
        while !rest.is_empty() {
            let run_len = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            if run_len == 0 {
                // One character that is not a letter or digit: an ASCII
                // punctuation mark is a piece; anything else separates.
                let c = rest.chars().next().unwrap_or(' ');
                if c.is_ascii_punctuation() {
                    buf.clear();
                    buf.push(c);
                    if let Some(&row) = self.rows.get(buf.as_str()) {
                        out.push(row);
                    }
                }
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let run = &rest[..run_len];
            rest = &rest[run_len..];
            if run.len() > MAX_RUN {
                continue;
            }
            let before = out.len();
            let mut start = 0;
            while start < run.len() {
                // The longest known piece from `start` (ASCII: bytes are chars).
                let prefix = if start > 0 { "##" } else { "" };
                let mut end = run
                    .len()
                    .min(start + self.longest.saturating_sub(prefix.len()));
                let mut found = None;
                while end > start {
                    buf.clear();
                    buf.push_str(prefix);
                    buf.extend(run[start..end].chars().map(|c| c.to_ascii_lowercase()));
                    if let Some(&row) = self.rows.get(buf.as_str()) {
                        found = Some(row);
                        break;
                    }
                    end -= 1;
                }
                match found {
                    Some(row) => {
                        out.push(row);
                        start = end;
                    }
                    None => {
                        out.truncate(before);
                        break;
                    }
                }
            }
        }
    }

    /// The unit-length mean of the piece vectors of `words` into `out` (`dims`
    /// components); false, and `out` all zero, when no piece is known.
    pub fn sentence<'a>(
        &self,
        words: impl IntoIterator<Item = &'a str>,
        out: &mut Vec<f32>,
    ) -> bool {
        out.clear();
        out.resize(self.dims, 0.0);
        let mut rows = Vec::with_capacity(32);
        let mut buf = String::with_capacity(32);
        for w in words {
            self.pieces(w, &mut buf, &mut rows);
        }
        if rows.is_empty() {
            return false;
        }
        for &row in &rows {
            let row = row as usize;
            let scale = self.scales[row];
            let bytes = &self.bytes[row * self.dims..(row + 1) * self.dims];
            for (o, &b) in out.iter_mut().zip(bytes) {
                *o += f32::from(b) * scale;
            }
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for v in out.iter_mut() {
                *v /= norm;
            }
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Embeddings {
        let row = |piece: &str, v: [i8; 2]| (piece.to_string(), 0.5, v.to_vec());
        Embeddings::new(
            2,
            vec![
                row("un", [1, 0]),
                row("##box", [0, 1]),
                row("##ing", [1, 1]),
                row("box", [0, 2]),
                row("?", [3, 0]),
            ],
        )
    }

    fn pieces(t: &Embeddings, word: &str) -> Vec<u32> {
        let mut out = Vec::new();
        t.pieces(word, &mut String::new(), &mut out);
        out
    }

    #[test]
    fn words_are_cut_into_the_longest_known_pieces() {
        let t = table();
        assert_eq!(pieces(&t, "unboxing"), [0, 1, 2]);
        assert_eq!(pieces(&t, "Box?"), [3, 4]);
        // A run that cannot be cut entirely is left out; the rest stays.
        assert_eq!(pieces(&t, "unboxed?"), [4]);
        assert_eq!(pieces(&t, "café box"), [3]);
        assert!(pieces(&t, &"a".repeat(200)).is_empty());
    }

    #[test]
    fn a_sentence_is_the_unit_mean_of_its_pieces() {
        let t = table();
        let mut v = Vec::new();
        assert!(t.sentence(["un", "box"], &mut v));
        // (1, 0) + (0, 2), scaled by 0.5, then to unit length.
        let n = 5f32.sqrt();
        assert!(
            (v[0] - 1.0 / n).abs() < 1e-6 && (v[1] - 2.0 / n).abs() < 1e-6,
            "{v:?}"
        );
        assert!(!t.sentence(["zzz"], &mut v));
        assert_eq!(v, [0.0, 0.0]);
    }

    #[test]
    fn stored_vectors_parse_or_say_why() {
        assert_eq!(
            Embeddings::parse_vector("0.5 AX8=", 2),
            Ok((0.5, vec![1, 127]))
        );
        assert_eq!(Embeddings::parse_vector("0.5 /w==", 1), Ok((0.5, vec![-1])));
        for (bad, dims, why) in [
            ("AX8=", 2, "expected a scale"),
            ("x AX8=", 2, "not a number"),
            ("-1 AX8=", 2, "not a positive number"),
            ("0.5 AX8", 2, "not base64"),
            ("0.5 AX8=", 3, "2 bytes where the table has 3"),
        ] {
            let e = Embeddings::parse_vector(bad, dims).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
