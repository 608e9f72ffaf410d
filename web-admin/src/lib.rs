//! Placeholder-free empty library: this component is built in a later issue.
