//! The on-disk format of [`ChannelData`](super::ChannelData): `meta.json` read with a size bound and
//! validated, and `data.npy` read by a parser of its own that checks the header (magic, version,
//! dtype, order, shape), the file's length and the memory cap before the one allocation of the data.

use super::*;

/// Largest `meta.json` [`ChannelData::load_with_cap`] reads, bytes (a record of 8,960 channels and
/// tens of transmit events takes tens of megabytes; parsing needs a few times the file's size).
pub const MAX_META_JSON_BYTES: u64 = 256 << 20;

/// Largest `.npy` header [`ChannelData::load_with_cap`] accepts, bytes (numpy writes 128 for a
/// three-dimensional array and refuses more than 10,000 by default).
pub const MAX_NPY_HEADER_BYTES: usize = 1 << 16;

/// Opens `path` as a regular file, returning it with its length.
pub(super) fn open_regular(path: &Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let md = file.metadata().map_err(|e| Error::io(path, e))?;
    if !md.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    Ok((file, md.len()))
}

/// Reads and validates `meta.json` (size-checked first, read through a bounded reader).
pub(super) fn read_meta(path: &Path) -> Result<Metadata> {
    let (file, len) = open_regular(path)?;
    let limit = MAX_META_JSON_BYTES;
    if len > limit {
        return Err(Error::format_msg(
            path,
            format!("{len} bytes, above the {limit} bytes a meta.json may have"),
        ));
    }
    let reader = BufReader::new(std::io::Read::take(file, limit));
    serde_json::from_reader(reader).map_err(|e| {
        if e.is_io() {
            Error::io(path, std::io::Error::from(e))
        } else {
            Error::format(path, e)
        }
    })
}

/// What the header of a `.npy` file says.
#[derive(Debug, PartialEq)]
pub(super) struct NpyHeader {
    /// The `descr` string, for example `<f4`.
    descr: String,
    /// The `fortran_order` flag.
    fortran_order: bool,
    /// The `shape` tuple.
    shape: Vec<u64>,
    /// Offset of the first data byte: preamble plus header.
    data_offset: u64,
}

/// Reads the preamble and header of a `.npy` file from `r` (at most 12 + [`MAX_NPY_HEADER_BYTES`]
/// bytes). Errors are messages; the caller names the file.
pub(super) fn read_npy_header(r: &mut impl std::io::Read) -> std::result::Result<NpyHeader, NpyError> {
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre)?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(NpyError::Format("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (major, minor) = (pre[6], pre[7]);
    let (header_len, preamble) = match (major, minor) {
        (1, 0) => {
            let mut l = [0u8; 2];
            r.read_exact(&mut l)?;
            (u16::from_le_bytes(l) as usize, 10)
        }
        (2, 0) | (3, 0) => {
            let mut l = [0u8; 4];
            r.read_exact(&mut l)?;
            (u32::from_le_bytes(l) as usize, 12)
        }
        _ => {
            return Err(NpyError::Format(format!(
                "format version {major}.{minor}, expected 1.0, 2.0 or 3.0"
            )));
        }
    };
    if header_len > MAX_NPY_HEADER_BYTES {
        return Err(NpyError::Format(format!(
            "a header of {header_len} bytes, above the {MAX_NPY_HEADER_BYTES} accepted"
        )));
    }
    let mut header = vec![0u8; header_len];
    r.read_exact(&mut header)?;
    let text = std::str::from_utf8(&header).map_err(|_| NpyError::Format("a header that is not text".into()))?;
    let (descr, fortran_order, shape) = parse_npy_dict(text).map_err(NpyError::Format)?;
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        data_offset: (preamble + header_len) as u64,
    })
}

/// Why a `.npy` file could not be read: the operating system's error or a content problem.
#[derive(Debug)]
pub(super) enum NpyError {
    Io(std::io::Error),
    Format(String),
}

impl From<std::io::Error> for NpyError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            NpyError::Format("truncated: the file ends inside its header".into())
        } else {
            NpyError::Io(e)
        }
    }
}

/// A Python literal in a `.npy` header dictionary.
pub(super) enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// Parses the header dictionary `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }`
/// (keys in any order, each exactly once, trailing commas and white space allowed) into
/// `(descr, fortran_order, shape)`. Any other key or value type is an error message.
pub(super) fn parse_npy_dict(text: &str) -> std::result::Result<(String, bool, Vec<u64>), String> {
    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }
    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn eat(&mut self, c: u8) -> bool {
            let hit = self.peek() == Some(c);
            self.i += usize::from(hit);
            hit
        }
        fn word(&mut self, w: &str) -> bool {
            let hit = self.s[self.i..].starts_with(w.as_bytes());
            if hit {
                self.i += w.len();
            }
            hit
        }
        fn string(&mut self) -> std::result::Result<String, String> {
            let q = match self.peek() {
                Some(q @ (b'\'' | b'"')) => q,
                _ => return Err(format!("a quoted string at header byte {}", self.i)),
            };
            self.i += 1;
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == q {
                    let v = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                    self.i += 1;
                    return Ok(v);
                }
                if c == b'\\' {
                    return Err("an escape sequence in a header string".into());
                }
                self.i += 1;
            }
            Err("an unterminated string in the header".into())
        }
        fn int(&mut self) -> std::result::Result<u64, String> {
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            if digits.is_empty() {
                return Err(format!("a non-negative integer in the shape at header byte {start}"));
            }
            digits
                .parse::<u64>()
                .map_err(|_| format!("a shape entry {digits} too large to be a size"))
        }
        fn value(&mut self) -> std::result::Result<PyValue, String> {
            match self.peek() {
                Some(b'\'' | b'"') => Ok(PyValue::Str(self.string()?)),
                _ if self.word("True") => Ok(PyValue::Bool(true)),
                _ if self.word("False") => Ok(PyValue::Bool(false)),
                Some(b'(') => {
                    self.i += 1;
                    let mut v = Vec::new();
                    loop {
                        self.ws();
                        if self.eat(b')') {
                            return Ok(PyValue::Tuple(v));
                        }
                        if v.len() == 32 {
                            return Err("a shape of more than 32 dimensions".into());
                        }
                        v.push(self.int()?);
                        self.ws();
                        if !self.eat(b',') {
                            self.ws();
                            if self.eat(b')') {
                                return Ok(PyValue::Tuple(v));
                            }
                            return Err(format!("',' or ')' in the shape at header byte {}", self.i));
                        }
                    }
                }
                _ => Err(format!(
                    "a string, True, False or a tuple of sizes at header byte {}",
                    self.i
                )),
            }
        }
    }
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.ws();
    if !p.eat(b'{') {
        return Err("a header that is not a dictionary".into());
    }
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        if !p.eat(b':') {
            return Err(format!("':' after the key '{key}'"));
        }
        p.ws();
        if !matches!(key.as_str(), "descr" | "fortran_order" | "shape") {
            return Err(format!("a header with an unknown key '{key}'"));
        }
        let slot_taken = match (key.as_str(), p.value()?) {
            ("descr", PyValue::Str(v)) => descr.replace(v).is_some(),
            ("fortran_order", PyValue::Bool(v)) => fortran.replace(v).is_some(),
            ("shape", PyValue::Tuple(v)) => shape.replace(v).is_some(),
            _ => return Err(format!("a header whose '{key}' has the wrong type")),
        };
        if slot_taken {
            return Err(format!("a header with the key '{key}' twice"));
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            if p.eat(b'}') {
                break;
            }
            return Err(format!("',' or '}}' at header byte {}", p.i));
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("text after the header dictionary at byte {}", p.i));
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        _ => Err("a header without one of 'descr', 'fortran_order' and 'shape'".into()),
    }
}

/// Reads `data.npy` at `path` as an array of `S` of exactly `shape`, checking the header, the
/// file's length and `memory_cap_bytes` before the one allocation of the data.
pub(super) fn read_npy<S: Sample>(path: &Path, shape: [usize; 3], memory_cap_bytes: u64) -> Result<Array3<S>> {
    use std::io::Read;
    let (file, len) = open_regular(path)?;
    let mut r = BufReader::new(file);
    let h = read_npy_header(&mut r).map_err(|e| match e {
        NpyError::Io(io) => Error::io(path, io),
        NpyError::Format(m) => Error::format_msg(path, m),
    })?;
    let order = if cfg!(target_endian = "little") { '<' } else { '>' };
    let want = format!("{order}{}", S::DTYPE);
    let little = match h.descr.as_bytes() {
        [b'<', rest @ ..] if rest == S::DTYPE.as_bytes() => true,
        [b'>', rest @ ..] if rest == S::DTYPE.as_bytes() => false,
        [b'=', rest @ ..] if rest == S::DTYPE.as_bytes() => cfg!(target_endian = "little"),
        _ => {
            return Err(Error::format_msg(
                path,
                format!("dtype '{}', expected '{want}' ({})", h.descr, S::DTYPE_NAME),
            ));
        }
    };
    if h.fortran_order {
        return Err(Error::format_msg(
            path,
            "fortran_order True: expected a C-order array [tx, channel, sample]",
        ));
    }
    let expected: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    if h.shape != expected {
        return Err(Error::format_msg(
            path,
            format!(
                "shape {:?}, expected the {:?} ([tx, channel, sample]) that meta.json describes",
                h.shape, expected
            ),
        ));
    }
    let n = shape.iter().map(|&d| d as u128).product::<u128>();
    let item = std::mem::size_of::<S>() as u128;
    let need = h.data_offset as u128 + n * item;
    if (len as u128) != need {
        let what = if (len as u128) < need {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(Error::format_msg(
            path,
            format!(
                "{what}: {len} bytes, where the header ({} bytes) and {n} samples of {item} bytes make {need}",
                h.data_offset
            ),
        ));
    }
    check_size("data.npy", n * item, memory_cap_bytes)?;
    let n = n as usize;
    let mut data: Vec<S> = Vec::new();
    data.try_reserve_exact(n).map_err(|_| Error::TooLarge {
        name: "data.npy",
        requested_bytes: n as u128 * item,
        cap_bytes: memory_cap_bytes,
    })?;
    let mut buf = vec![0u8; 1 << 16];
    let mut comps = [0f32; 2];
    let (nc, item) = (S::COMPONENTS, item as usize);
    let mut left = n * item;
    while left > 0 {
        let chunk = &mut buf[..left.min(1 << 16)];
        r.read_exact(chunk).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::format_msg(path, "truncated while reading the data"),
            _ => Error::io(path, e),
        })?;
        for sample in chunk.chunks_exact(item) {
            for (c, b) in comps.iter_mut().zip(sample.chunks_exact(4)) {
                let b = [b[0], b[1], b[2], b[3]];
                *c = if little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
            }
            data.push(S::from_components(&comps[..nc]));
        }
        left -= chunk.len();
    }
    let mut probe = [0u8; 1];
    if r.read(&mut probe).map_err(|e| Error::io(path, e))? != 0 {
        return Err(Error::format_msg(path, "trailing bytes after the data"));
    }
    Array3::from_shape_vec((shape[0], shape[1], shape[2]), data).map_err(|e| Error::format(path, e))
}
