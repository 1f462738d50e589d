//! PEM and DER blobs as found in Secrets and ConfigMaps, with the line of each block.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One `-----BEGIN X-----` block, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label: `CERTIFICATE`, `PRIVATE KEY`, `RSA PRIVATE KEY`, ...
    pub label: String,
    pub der: Vec<u8>,
    /// 1-based line of the BEGIN marker within the blob.
    pub line: u32,
}

impl std::fmt::Debug for PemBlock {
    // Blocks may be private keys: print the label only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl PemBlock {
    pub fn is_private_key(&self) -> bool {
        self.label.ends_with("PRIVATE KEY")
    }
}

/// A PEM problem, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemError {
    pub line: u32,
    pub message: String,
}

/// Splits a blob into PEM blocks. Text outside blocks is ignored (bundles often carry comments),
/// but a blob with no block at all, a block without its END line, or a body that is not base64
/// is an error. A blob that is not text is tried as one DER certificate.
pub fn parse_blocks(blob: &[u8]) -> (Vec<PemBlock>, Vec<PemError>) {
    let Ok(text) = std::str::from_utf8(blob) else {
        return if blob.first() == Some(&0x30) {
            (
                vec![PemBlock {
                    label: "CERTIFICATE".into(),
                    der: blob.to_vec(),
                    line: 1,
                }],
                Vec::new(),
            )
        } else {
            (
                Vec::new(),
                vec![PemError {
                    line: 1,
                    message: "neither PEM text nor DER".into(),
                }],
            )
        };
    };
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut open: Option<(String, u32, String)> = None;
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let line = raw_line.trim();
        if let Some(label) = marker(line, "BEGIN") {
            if let Some((label, start, _)) = open.take() {
                errors.push(unterminated(&label, start));
            }
            open = Some((label.to_string(), line_no, String::new()));
        } else if let Some(label) = marker(line, "END") {
            match open.take() {
                Some((begin, start, body)) if begin == label => {
                    match STANDARD.decode(body.as_bytes()) {
                        Ok(der) if !der.is_empty() => blocks.push(PemBlock {
                            label: begin,
                            der,
                            line: start,
                        }),
                        Ok(_) => errors.push(PemError {
                            line: start,
                            message: format!("empty {begin} block"),
                        }),
                        Err(e) => errors.push(PemError {
                            line: start,
                            message: format!("{begin} block is not valid base64: {e}"),
                        }),
                    }
                }
                Some((begin, start, _)) => errors.push(PemError {
                    line: line_no,
                    message: format!("END {label} closes a BEGIN {begin} opened on line {start}"),
                }),
                None => errors.push(PemError {
                    line: line_no,
                    message: format!("END {label} without BEGIN"),
                }),
            }
        } else if let Some((_, _, body)) = open.as_mut() {
            // Headers such as `Proc-Type:` (encrypted legacy keys) are not base64 body.
            if !line.contains(':') {
                body.push_str(line);
            }
        }
    }
    if let Some((label, start, _)) = open {
        errors.push(unterminated(&label, start));
    }
    if blocks.is_empty() && errors.is_empty() && !text.trim().is_empty() {
        errors.push(PemError {
            line: 1,
            message: "no PEM block found".into(),
        });
    }
    (blocks, errors)
}

fn unterminated(label: &str, start: u32) -> PemError {
    PemError {
        line: start,
        message: format!("{label} block opened on line {start} is never closed (truncated PEM?)"),
    }
}

fn marker<'a>(line: &'a str, which: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_suffix("-----")?
        .strip_prefix(which)?
        .strip_prefix(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_and_reports_truncation() {
        let blob = b"# bundle\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAQID\n";
        let (blocks, errors) = parse_blocks(blob);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].der, vec![1, 2, 3]);
        assert_eq!(blocks[0].line, 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 5);
        assert!(errors[0].message.contains("never closed"));
    }

    #[test]
    fn rejects_non_base64_and_garbage() {
        let (_, errors) =
            parse_blocks(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        assert!(errors[0].message.contains("not valid base64"));
        let (_, errors) = parse_blocks(b"hello world");
        assert_eq!(errors[0].message, "no PEM block found");
        let (_, errors) = parse_blocks(&[0xff, 0xfe, 0x00]);
        assert_eq!(errors[0].message, "neither PEM text nor DER");
    }
}
