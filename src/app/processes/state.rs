//! The Processes screen's own state: how its list is scrolled and where it
//! was drawn, the search being typed, the compare pane and the detail
//! pane. The process tree itself and the selection are the shared model
//! (`ProcessModel` in `app/model.rs`), which other screens read too.

use crate::app::model::ProcessModel;
use ratatui::layout::Rect;
use std::cell::Cell;

/// What the bottom line is doing: showing key hints, or editing a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    None,
    Search(String),
}

#[derive(Debug)]
pub struct ProcessesState {
    /// First row shown. Settled on each draw (`settle`): the selection
    /// stays visible, and a followed row keeps its line on screen.
    pub scroll: Cell<usize>,
    /// The selected row's line on screen at the last settle (for follow).
    line: Cell<usize>,
    /// Rows the list can show and where they were drawn: `view.rs` records
    /// both on every draw; PgUp/PgDn page by it, clicks map through it.
    pub page: Cell<usize>,
    pub list_rows: Cell<Rect>,
    pub prompt: Prompt,
    pub last_search: Option<String>,
    pub compare: bool,
    pub show_detail: bool,
    /// The columns asked for (`--columns`, config); `None`: by width.
    pub columns: Option<Vec<crate::cli::Column>>,
}

impl Default for ProcessesState {
    fn default() -> Self {
        ProcessesState {
            scroll: Cell::new(0),
            line: Cell::new(0),
            page: Cell::new(20),
            list_rows: Cell::new(Rect::default()),
            prompt: Prompt::None,
            last_search: None,
            compare: false,
            show_detail: true,
            columns: None,
        }
    }
}

impl ProcessesState {
    /// Sets the rows the list shows and settles the scroll for it.
    pub fn set_page(&self, page: usize, p: &ProcessModel) {
        self.page.set(page.max(1));
        self.settle(p);
    }

    /// Puts the scroll where the selection is visible; while following, the
    /// followed row keeps the line it had on screen as rows around it come
    /// and go.
    pub fn settle(&self, p: &ProcessModel) {
        let page = self.page.get().max(1);
        let mut scroll = self.scroll.get();
        if p.follow {
            scroll = p.selected.saturating_sub(self.line.get());
        }
        if p.selected < scroll {
            scroll = p.selected;
        } else if p.selected >= scroll + page {
            scroll = p.selected + 1 - page;
        }
        scroll = scroll.min(p.rows.len().saturating_sub(page));
        self.scroll.set(scroll);
        self.line.set(p.selected.saturating_sub(scroll));
    }

    /// The row index under screen line `row`, if a row is drawn there.
    pub fn row_at(&self, column: u16, row: u16, p: &ProcessModel) -> Option<usize> {
        let list = self.list_rows.get();
        if !list.contains(ratatui::layout::Position::new(column, row)) {
            return None;
        }
        let i = self.scroll.get() + (row - list.y) as usize;
        (i < p.rows.len()).then_some(i)
    }
}
