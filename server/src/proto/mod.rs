//! Message formats every transport shares: data-format codecs and SOAP.
pub mod codec;
pub mod soap;
