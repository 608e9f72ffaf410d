//! Inbound transports: each turns what arrives into a [`crate::core::Call`] and the result
//! back into its own answer.
#[cfg(feature = "amqp")]
pub mod amqp;
pub mod http;
