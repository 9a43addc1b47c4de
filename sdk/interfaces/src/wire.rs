//! The wire form of the values an interface moves: little-endian integers,
//! a byte for `bool` and enum tags, and a 16-bit length before bytes and
//! text. Encoding writes into a caller's buffer and decoding reads from the
//! received bytes, so neither side allocates.
//!
//! Every value also says how a person reads it ([`Wire::render`]) and, for
//! the types a person can type, how it is read from a word of text
//! ([`Wire::from_text`]); the shell's `call ENDPOINT OPERATION ARGUMENTS`
//! goes through these.

use core::fmt;

/// Why bytes did not encode or decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The buffer has no room for the value.
    Full,
    /// The bytes end before the value does.
    Truncated,
    /// Bytes are left over after the last value.
    TrailingBytes,
    /// A tag, `bool` or text that is not one the type has.
    BadValue,
    /// The request names no operation of the interface.
    UnknownOperation,
    /// A word of text that does not read as the argument's type.
    BadArgument,
}

impl fmt::Display for WireError {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(match self {
            Self::Full => "the message does not fit its buffer",
            Self::Truncated => "the message ends early",
            Self::TrailingBytes => "the message has bytes past its last value",
            Self::BadValue => "the message holds a value its type does not have",
            Self::UnknownOperation => "no such operation",
            Self::BadArgument => "an argument does not read as its type",
        })
    }
}

/// Writes values into a buffer.
pub struct Writer<'b> {
    buffer: &'b mut [u8],
    length: usize,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buffer`.
    pub fn new(buffer: &'b mut [u8]) -> Self {
        Writer { buffer, length: 0 }
    }

    /// Appends `bytes`.
    ///
    /// # Errors
    /// [`WireError::Full`] if they do not fit; nothing is written then.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let end = self
            .length
            .checked_add(bytes.len())
            .filter(|&end| end <= self.buffer.len())
            .ok_or(WireError::Full)?;
        self.buffer[self.length..end].copy_from_slice(bytes);
        self.length = end;
        Ok(())
    }

    /// How many bytes were written.
    pub fn length(&self) -> usize {
        self.length
    }
}

/// Reads values from received bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// The next `count` bytes.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if fewer are left.
    pub fn take(&mut self, count: usize) -> Result<&'a [u8], WireError> {
        if count > self.bytes.len() {
            return Err(WireError::Truncated);
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    /// Checks that every byte was read.
    ///
    /// # Errors
    /// [`WireError::TrailingBytes`] if some are left.
    pub fn finish(self) -> Result<(), WireError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes)
        }
    }
}

/// A value with a wire form.
pub trait Wire<'a>: Sized {
    /// Writes the value.
    ///
    /// # Errors
    /// [`WireError::Full`] if the buffer has no room.
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError>;

    /// Reads a value.
    ///
    /// # Errors
    /// [`WireError`] if the bytes are not a value of the type.
    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError>;

    /// Writes the value as a person reads it.
    ///
    /// # Errors
    /// Those of `out`.
    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result;

    /// Reads the value from one word a person typed, for the types that can
    /// be typed (integers, `bool`, text).
    fn from_text(_word: &'a str) -> Option<Self> {
        None
    }
}

macro_rules! integers {
    ($($type:ty),*) => {$(
        impl Wire<'_> for $type {
            fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
                out.put(&self.to_le_bytes())
            }

            fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
                let bytes = input.take(core::mem::size_of::<$type>())?;
                let mut array = [0; core::mem::size_of::<$type>()];
                array.copy_from_slice(bytes);
                Ok(<$type>::from_le_bytes(array))
            }

            fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
                write!(out, "{self}")
            }

            fn from_text(word: &str) -> Option<Self> {
                match word.strip_prefix("0x") {
                    Some(hex) => <$type>::from_str_radix(hex, 16).ok(),
                    None => word.parse().ok(),
                }
            }
        }
    )*};
}

integers!(u8, u16, u32, u64, i32, i64);

impl Wire<'_> for bool {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        out.put(&[u8::from(*self)])
    }

    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match input.take(1)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(WireError::BadValue),
        }
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        out.write_str(if *self { "yes" } else { "no" })
    }

    fn from_text(word: &str) -> Option<Self> {
        match word {
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            _ => None,
        }
    }
}

impl Wire<'_> for () {
    fn encode(&self, _out: &mut Writer<'_>) -> Result<(), WireError> {
        Ok(())
    }

    fn decode(_input: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(())
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        out.write_str("done")
    }
}

/// Writes a length of at most `u16::MAX` before bytes.
fn put_counted(bytes: &[u8], out: &mut Writer<'_>) -> Result<(), WireError> {
    let length = u16::try_from(bytes.len()).map_err(|_| WireError::Full)?;
    length.encode(out)?;
    out.put(bytes)
}

impl<'a> Wire<'a> for &'a [u8] {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        put_counted(self, out)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        let length = u16::decode(input)?;
        input.take(usize::from(length))
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{} bytes", self.len())
    }
}

impl<'a> Wire<'a> for &'a str {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        put_counted(self.as_bytes(), out)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        let bytes = <&[u8]>::decode(input)?;
        core::str::from_utf8(bytes).map_err(|_| WireError::BadValue)
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        out.write_str(self)
    }

    fn from_text(word: &'a str) -> Option<Self> {
        Some(word)
    }
}

impl<'a, T: Wire<'a>> Wire<'a> for Option<T> {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        match self {
            None => out.put(&[0]),
            Some(value) => {
                out.put(&[1])?;
                value.encode(out)
            }
        }
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        match input.take(1)? {
            [0] => Ok(None),
            [1] => T::decode(input).map(Some),
            _ => Err(WireError::BadValue),
        }
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            None => out.write_str("none"),
            Some(value) => value.render(out),
        }
    }
}

/// An operation's answer: its value, or the interface's error.
impl<'a, T: Wire<'a>, E: Wire<'a>> Wire<'a> for Result<T, E> {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        match self {
            Ok(value) => {
                out.put(&[0])?;
                value.encode(out)
            }
            Err(error) => {
                out.put(&[1])?;
                error.encode(out)
            }
        }
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        match input.take(1)? {
            [0] => T::decode(input).map(Ok),
            [1] => E::decode(input).map(Err),
            _ => Err(WireError::BadValue),
        }
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            Ok(value) => value.render(out),
            Err(error) => {
                out.write_str("error: ")?;
                error.render(out)
            }
        }
    }
}

/// A fixed number of values, rendered with a space between them.
impl<'a, T: Wire<'a> + Copy + Default, const N: usize> Wire<'a> for [T; N] {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        self.iter().try_for_each(|value| value.encode(out))
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        let mut values = [T::default(); N];
        for value in &mut values {
            *value = T::decode(input)?;
        }
        Ok(values)
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        for (index, value) in self.iter().enumerate() {
            if index > 0 {
                out.write_str(" ")?;
            }
            value.render(out)?;
        }
        Ok(())
    }
}

/// Encodes `value` alone into `buffer`; returns the length.
///
/// # Errors
/// [`WireError::Full`] if it does not fit.
pub fn encode<'a, T: Wire<'a>>(value: &T, buffer: &mut [u8]) -> Result<usize, WireError> {
    let mut writer = Writer::new(buffer);
    value.encode(&mut writer)?;
    Ok(writer.length())
}

/// Decodes `bytes` as exactly one `T`.
///
/// # Errors
/// [`WireError`] if they are not one, or bytes are left over.
pub fn decode<'a, T: Wire<'a>>(bytes: &'a [u8]) -> Result<T, WireError> {
    let mut reader = Reader::new(bytes);
    let value = T::decode(&mut reader)?;
    reader.finish()?;
    Ok(value)
}
