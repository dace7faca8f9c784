//! (to be written: see ARCHITECTURE.md)
