//! Application state, update(msg) and the collector thread.
