//! The macros that describe interfaces and the records and enums they carry.

/// Declares a record whose wire form is its fields in order. The record
/// must implement `Display`: that is how a person reads it. A record may
/// borrow from the message it is decoded from (`struct Data<'a> { bytes:
/// &'a [u8] }`).
#[macro_export]
macro_rules! wire_record {
    (
        $(#[$meta:meta])*
        $visibility:vis struct $name:ident<$lifetime:lifetime> {
            $($(#[$field_meta:meta])* $field_visibility:vis $field:ident : $type:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $visibility struct $name<$lifetime> {
            $($(#[$field_meta])* $field_visibility $field: $type),*
        }

        impl<$lifetime> $crate::wire::Wire<$lifetime> for $name<$lifetime> {
            fn encode(
                &self,
                out: &mut $crate::wire::Writer<'_>,
            ) -> ::core::result::Result<(), $crate::wire::WireError> {
                $($crate::wire::Wire::encode(&self.$field, out)?;)*
                Ok(())
            }

            fn decode(
                input: &mut $crate::wire::Reader<$lifetime>,
            ) -> ::core::result::Result<Self, $crate::wire::WireError> {
                Ok($name {
                    $($field: $crate::wire::Wire::decode(input)?,)*
                })
            }

            fn render(&self, out: &mut dyn ::core::fmt::Write) -> ::core::fmt::Result {
                write!(out, "{self}")
            }
        }
    };
    (
        $(#[$meta:meta])*
        $visibility:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_visibility:vis $field:ident : $type:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $visibility struct $name {
            $($(#[$field_meta])* $field_visibility $field: $type),*
        }

        impl<'a> $crate::wire::Wire<'a> for $name {
            fn encode(
                &self,
                out: &mut $crate::wire::Writer<'_>,
            ) -> ::core::result::Result<(), $crate::wire::WireError> {
                $($crate::wire::Wire::encode(&self.$field, out)?;)*
                Ok(())
            }

            fn decode(
                input: &mut $crate::wire::Reader<'a>,
            ) -> ::core::result::Result<Self, $crate::wire::WireError> {
                Ok($name {
                    $($field: $crate::wire::Wire::decode(input)?,)*
                })
            }

            fn render(&self, out: &mut dyn ::core::fmt::Write) -> ::core::fmt::Result {
                write!(out, "{self}")
            }
        }
    };
}

/// Declares a C-like enum carried as one byte, each variant with its number
/// and the word a person reads and types for it.
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $visibility:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $number:literal => $word:literal),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        $visibility enum $name {
            $($(#[$variant_meta])* $variant = $number),*
        }

        impl $name {
            /// The word a person reads for it.
            pub fn word(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),*
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, out: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                out.write_str(self.word())
            }
        }

        impl<'a> $crate::wire::Wire<'a> for $name {
            fn encode(
                &self,
                out: &mut $crate::wire::Writer<'_>,
            ) -> ::core::result::Result<(), $crate::wire::WireError> {
                out.put(&[*self as u8])
            }

            fn decode(
                input: &mut $crate::wire::Reader<'a>,
            ) -> ::core::result::Result<Self, $crate::wire::WireError> {
                match input.take(1)? {
                    $([$number] => Ok(Self::$variant),)*
                    _ => Err($crate::wire::WireError::BadValue),
                }
            }

            fn render(&self, out: &mut dyn ::core::fmt::Write) -> ::core::fmt::Result {
                out.write_str(self.word())
            }

            fn from_text(word: &'a str) -> Option<Self> {
                match word {
                    $($word => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

/// The answer type of an operation: the one it names, or `()` for a
/// one-way operation (one without `-> ANSWER`).
#[doc(hidden)]
#[macro_export]
macro_rules! __answer {
    () => {
        ()
    };
    ($answer:ty) => {
        $answer
    };
}

/// Whether an operation answers: `false` for a one-way operation.
#[doc(hidden)]
#[macro_export]
macro_rules! __answers {
    () => {
        false
    };
    ($answer:ty) => {
        true
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __idempotent {
    (idempotent) => {
        true
    };
    (once) => {
        false
    };
}

/// Describes an interface: the endpoint that serves it and its operations.
/// Used inside a module of its own; see the crate's documentation for what
/// it makes. An operation written without `-> ANSWER` is one-way: its
/// request is encoded and served like any other, its server method returns
/// nothing, and it is sent without waiting for an answer (a request that
/// was called anyway gets the empty answer, which decodes as `()`).
///
/// ```
/// mod echo {
///     cella_interfaces::interface! {
///         endpoint "echo";
///         /// Answers with the number it was given plus one.
///         idempotent fn next(value: u32) -> u32;
///     }
/// }
/// struct Counter;
/// impl echo::Server for Counter {
///     fn next(&mut self, value: u32) -> u32 {
///         value + 1
///     }
/// }
/// let mut request = [0; 16];
/// let length = echo::next::request(&mut request, 41).unwrap();
/// let mut reply = [0; 16];
/// let answered = echo::serve(&mut Counter, &request[..length], &mut reply).unwrap();
/// assert_eq!(echo::next::reply(&reply[..answered]), Ok(42));
/// ```
#[macro_export]
macro_rules! interface {
    (
        endpoint $endpoint:literal;
        $(
            $(#[$meta:meta])*
            $kind:ident fn $operation:ident ( $($argument:ident : $type:ty),* $(,)? ) $(-> $answer:ty)?;
        )*
    ) => {
        #[allow(unused_imports)]
        use $crate::wire::{Wire as _, WireError as _};

        /// The endpoint that serves this interface.
        pub const ENDPOINT: &str = $endpoint;

        /// Every operation, with whether its requests may be replayed.
        pub const OPERATIONS: &[$crate::Operation] = &[$($crate::Operation {
            name: stringify!($operation),
            idempotent: $crate::__idempotent!($kind),
            answers: $crate::__answers!($($answer)?),
        }),*];

        /// What a server of this interface implements, one method an operation.
        pub trait Server {
            $($(#[$meta])* fn $operation(&mut self, $($argument: $type),*) -> $crate::__answer!($($answer)?);)*
        }

        /// Decodes `request`, calls the server's method for it and encodes
        /// the answer into `reply`; returns the answer's length.
        ///
        /// # Errors
        /// The request names no operation, its arguments do not decode, or
        /// the answer does not fit `reply`.
        #[allow(unused_mut)]
        pub fn serve<S: Server>(
            server: &mut S,
            request: &[u8],
            reply: &mut [u8],
        ) -> ::core::result::Result<usize, $crate::wire::WireError> {
            let (name, mut arguments) = $crate::split_request(request);
            $(
                if name == stringify!($operation).as_bytes() {
                    $(let $argument: $type = $crate::wire::Wire::decode(&mut arguments)?;)*
                    arguments.finish()?;
                    #[allow(clippy::let_unit_value)]
                    let answer: $crate::__answer!($($answer)?) = server.$operation($($argument),*);
                    return $crate::wire::encode(&answer, reply);
                }
            )*
            Err($crate::wire::WireError::UnknownOperation)
        }

        /// Whether `request` may be replayed (`None` if it names no operation).
        pub fn idempotent(request: &[u8]) -> Option<bool> {
            let (name, _) = $crate::split_request(request);
            OPERATIONS
                .iter()
                .find(|operation| operation.name.as_bytes() == name)
                .map(|operation| operation.idempotent)
        }

        /// Encodes a line a person typed, `OPERATION ARGUMENT...`, as a request.
        ///
        /// # Errors
        /// The operation is unknown, an argument is missing, extra or does not
        /// read as its type, or the request does not fit `buffer`.
        #[allow(unused_mut, unused_variables)]
        pub fn request_from_text(
            line: &str,
            buffer: &mut [u8],
        ) -> ::core::result::Result<usize, $crate::wire::WireError> {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or("");
            $(
                if name == stringify!($operation) {
                    $(
                        let $argument: $type = words
                            .next()
                            .and_then(<$type as $crate::wire::Wire>::from_text)
                            .ok_or($crate::wire::WireError::BadArgument)?;
                    )*
                    if words.next().is_some() {
                        return Err($crate::wire::WireError::BadArgument);
                    }
                    return $operation::request(buffer, $($argument),*);
                }
            )*
            Err($crate::wire::WireError::UnknownOperation)
        }

        /// Writes the answer `reply` to `request` as a person reads it.
        ///
        /// # Errors
        /// The request names no operation, or the answer is not one it gives.
        pub fn render_reply(
            request: &[u8],
            reply: &[u8],
            out: &mut dyn ::core::fmt::Write,
        ) -> ::core::result::Result<(), $crate::wire::WireError> {
            let (name, _) = $crate::split_request(request);
            $(
                if name == stringify!($operation).as_bytes() {
                    #[allow(clippy::let_unit_value)]
                    let answer: $crate::__answer!($($answer)?) = $operation::reply(reply)?;
                    return $crate::wire::Wire::render(&answer, out)
                        .map_err(|_| $crate::wire::WireError::Full);
                }
            )*
            Err($crate::wire::WireError::UnknownOperation)
        }

        $(
            /// The client's side of the operation of this name.
            #[allow(unused_imports)]
            pub mod $operation {
                use super::*;

                /// Encodes a request for the operation into `buffer`; returns
                /// its length.
                ///
                /// # Errors
                /// [`WireError::Full`]($crate::wire::WireError::Full) if it
                /// does not fit.
                #[allow(unused_mut)]
                pub fn request(
                    buffer: &mut [u8],
                    $($argument: $type),*
                ) -> ::core::result::Result<usize, $crate::wire::WireError> {
                    let mut writer = $crate::wire::Writer::new(buffer);
                    writer.put(stringify!($operation).as_bytes())?;
                    let mut separated = false;
                    $(
                        if !separated {
                            writer.put(&[0])?;
                            separated = true;
                        }
                        $crate::wire::Wire::encode(&$argument, &mut writer)?;
                    )*
                    let _ = separated;
                    Ok(writer.length())
                }

                /// Decodes the server's answer.
                ///
                /// # Errors
                /// The bytes are not an answer of the operation.
                pub fn reply(
                    bytes: &[u8],
                ) -> ::core::result::Result<$crate::__answer!($($answer)?), $crate::wire::WireError> {
                    $crate::wire::decode(bytes)
                }
            }
        )*
    };
}
