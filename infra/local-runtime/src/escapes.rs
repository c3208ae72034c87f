//! Decoding of two-digit hex escapes, shared by URL paths (`%2F`) and quoted-printable email
//! bodies (`=3D`).

/// Replaces every `{marker}XX` with the byte of hex `XX`. A marker not followed by two hex
/// digits is kept as it is, and the result is read as UTF-8, lossily.
pub fn decode_hex_escapes(text: &str, marker: u8) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == marker && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("zz");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
