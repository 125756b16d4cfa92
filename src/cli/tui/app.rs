//! The terminal UI's state and its keys: everything here is testable without a terminal.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sipscope::analysis::stats::Stats;
use sipscope::correlate::record::CallKind;
use sipscope::render::text::TimeMode;
use sipscope::time::Ts;

use super::query::Query;
use super::store::{CallEntry, Store};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Tab {
    Calls,
    Other,
    Registrations,
    Streams,
    Alerts,
    Stats,
}

pub const TABS: [(Tab, &str); 6] = [
    (Tab::Calls, "Calls"),
    (Tab::Other, "Other dialogs"),
    (Tab::Registrations, "Registrations"),
    (Tab::Streams, "RTP"),
    (Tab::Alerts, "Alerts"),
    (Tab::Stats, "Stats"),
];

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    List,
    Call,
    Help,
}

/// What the bottom line is reading from the keyboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    None,
    Filter(String),
    Search(String),
    Save(String),
}

/// Columns the call list sorts by.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Start,
    From,
    To,
    State,
    Status,
    Pdd,
    Duration,
    Messages,
    Alerts,
    Mos,
    Loss,
}

pub const SORTS: [(SortKey, &str); 11] = [
    (SortKey::Start, "start"),
    (SortKey::From, "from"),
    (SortKey::To, "to"),
    (SortKey::State, "state"),
    (SortKey::Status, "status"),
    (SortKey::Pdd, "pdd"),
    (SortKey::Duration, "duration"),
    (SortKey::Messages, "msgs"),
    (SortKey::Alerts, "alerts"),
    (SortKey::Mos, "mos"),
    (SortKey::Loss, "loss"),
];

/// One key of the key map, for the handling and the help screen alike.
pub struct KeyHelp {
    pub keys: &'static str,
    pub what: &'static str,
    pub screen: &'static str,
}

pub const KEYMAP: &[KeyHelp] = &[
    KeyHelp {
        keys: "q Esc",
        what: "back; quit from the list",
        screen: "all",
    },
    KeyHelp {
        keys: "Ctrl-C",
        what: "quit",
        screen: "all",
    },
    KeyHelp {
        keys: "F1 ? h",
        what: "this help",
        screen: "all",
    },
    KeyHelp {
        keys: "Tab 1-6",
        what: "next tab / tab by number",
        screen: "list",
    },
    KeyHelp {
        keys: "↑↓ j k PgUp PgDn",
        what: "move",
        screen: "all",
    },
    KeyHelp {
        keys: "g Home / G End",
        what: "first / last (End follows new calls)",
        screen: "list",
    },
    KeyHelp {
        keys: "Enter",
        what: "open the call (ladder and message)",
        screen: "list",
    },
    KeyHelp {
        keys: "Space",
        what: "select the call for F2 / the message to compare",
        screen: "list, call",
    },
    KeyHelp {
        keys: "F7 f",
        what: "filter: from: to: id: method: addr: outcome: since: until: words",
        screen: "list",
    },
    KeyHelp {
        keys: "F3 /",
        what: "search the message text; n N next / previous",
        screen: "call",
    },
    KeyHelp {
        keys: "s S",
        what: "sort by the next column / reverse",
        screen: "list",
    },
    KeyHelp {
        keys: "p",
        what: "pause the view (capture goes on)",
        screen: "all",
    },
    KeyHelp {
        keys: "F2 w",
        what: "save: .pcap/.pcapng, .txt, .svg, .html, .mmd ladder, .csv/.json list",
        screen: "list, call",
    },
    KeyHelp {
        keys: "← → H L",
        what: "scroll the ladder sideways",
        screen: "call",
    },
    KeyHelp {
        keys: "P",
        what: "merge a host's ports into one column",
        screen: "call",
    },
    KeyHelp {
        keys: "A",
        what: "merge the call's B2BUA legs",
        screen: "call",
    },
    KeyHelp {
        keys: "t",
        what: "time: absolute / since previous / since first / since mark",
        screen: "call",
    },
    KeyHelp {
        keys: "m",
        what: "mark the selected message's time",
        screen: "call",
    },
    KeyHelp {
        keys: "c",
        what: "compare the Space-selected message with this one, by header",
        screen: "call",
    },
    KeyHelp {
        keys: "J K",
        what: "scroll the message pane",
        screen: "call",
    },
];

/// What the capture thread said last.
#[derive(Clone, Debug, Default)]
pub struct Feed {
    /// Files: bytes read and total.
    pub progress: Option<(u64, u64)>,
    pub done: bool,
    /// What the run lost or doubted, at its end.
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

pub struct App {
    pub store: Store,
    pub stats: Stats,
    pub feed: Feed,
    /// What is read: file names, or the interface.
    pub source: String,
    pub live: bool,
    pub files: Vec<PathBuf>,
    /// Live: where the capture is spooled (for saving frames).
    pub spool: Option<PathBuf>,
    /// Live: the spool's writer, asked to put what it has on disk before a save reads it.
    pub spool_tap: Option<sipscope::capture::writer::Tap>,
    /// Endpoint names for the ladder (`--alias`).
    pub aliases: std::collections::BTreeMap<String, String>,
    pub tab: Tab,
    pub screen: Screen,
    pub prompt: Prompt,
    pub query: Query,
    pub query_text: String,
    /// The filter when the prompt opened (Esc goes back to it).
    query_before: String,
    pub sort: SortKey,
    pub desc: bool,
    /// The list as shown: Call-IDs filtered and sorted.
    pub rows: Vec<String>,
    rows_gen: u64,
    /// When the list was last recomputed, and what that cost: a big list is recomputed at most
    /// every ten times its cost, so that a busy capture never spends the UI thread on sorting.
    rows_at: std::time::Instant,
    rows_cost: std::time::Duration,
    pub sel: usize,
    pub offset: usize,
    /// Live: the selection stays on the newest call.
    pub follow: bool,
    /// Rows that came since the user scrolled away (or paused).
    pub new_rows: usize,
    pub paused: bool,
    pub marked: BTreeSet<String>,
    /// The call open in the call screen.
    pub call_id: Option<String>,
    pub msg_sel: usize,
    pub ladder_x: u16,
    pub text_scroll: u16,
    pub by_host: bool,
    pub legs: bool,
    pub time: TimeMode,
    pub compare_with: Option<usize>,
    pub comparing: bool,
    pub search: String,
    pub status: String,
    pub color: bool,
    pub quit: bool,
    /// Rows of the list the last draw could show (for PgUp/PgDn).
    pub page: usize,
}

fn cmp_f(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
}

impl App {
    pub fn new(store: Store, source: String, live: bool, files: Vec<PathBuf>) -> App {
        App {
            store,
            stats: Stats::new(Default::default()),
            feed: Feed::default(),
            source,
            live,
            files,
            spool: None,
            spool_tap: None,
            aliases: Default::default(),
            tab: Tab::Calls,
            screen: Screen::List,
            prompt: Prompt::None,
            query: Query::default(),
            query_text: String::new(),
            query_before: String::new(),
            sort: SortKey::Start,
            desc: false,
            rows: Vec::new(),
            rows_gen: u64::MAX,
            rows_at: std::time::Instant::now(),
            rows_cost: std::time::Duration::ZERO,
            sel: 0,
            offset: 0,
            follow: live,
            new_rows: 0,
            paused: false,
            marked: BTreeSet::new(),
            call_id: None,
            msg_sel: 0,
            ladder_x: 0,
            text_scroll: 0,
            by_host: false,
            legs: false,
            time: TimeMode::Absolute,
            compare_with: None,
            comparing: false,
            search: String::new(),
            status: String::new(),
            color: crate::cli::colour_on(true),
            quit: false,
            page: 10,
        }
    }

    fn in_tab(&self, e: &CallEntry) -> bool {
        match self.tab {
            Tab::Calls => e.call.kind == CallKind::Invite,
            Tab::Other => !matches!(e.call.kind, CallKind::Invite | CallKind::Register),
            _ => false,
        }
    }

    /// Recomputes the list if the store or the view changed (not while paused).
    pub fn refresh(&mut self) {
        if self.paused || self.rows_gen == self.store.generation {
            return;
        }
        // A forced refresh (a key changed the view) sets rows_gen to MAX and is never held.
        if self.rows_gen != u64::MAX && self.rows_at.elapsed() < self.rows_cost * 10 {
            return;
        }
        let began = std::time::Instant::now();
        let before = self.rows.len();
        let current = self.rows.get(self.sel).cloned();
        let mut rows: Vec<&CallEntry> = self
            .store
            .calls
            .values()
            .filter(|e| self.in_tab(e) && self.query.call(e))
            .collect();
        let key = self.sort;
        rows.sort_by(|a, b| {
            let o = match key {
                SortKey::Start => a.call.start.cmp(&b.call.start),
                SortKey::From => a.call.from.cmp(&b.call.from),
                SortKey::To => a.call.to.cmp(&b.call.to),
                SortKey::State => a.state().cmp(&b.state()),
                SortKey::Status => a.call.final_status.cmp(&b.call.final_status),
                SortKey::Pdd => cmp_f(a.call.pdd, b.call.pdd),
                SortKey::Duration => a.call.duration.total_cmp(&b.call.duration),
                SortKey::Messages => a.call.messages.cmp(&b.call.messages),
                SortKey::Alerts => a.alerts.len().cmp(&b.alerts.len()),
                SortKey::Mos => cmp_f(a.worst_mos(), b.worst_mos()),
                SortKey::Loss => cmp_f(a.worst_loss(), b.worst_loss()),
            };
            o.then(a.seq.cmp(&b.seq))
        });
        if self.desc {
            rows.reverse();
        }
        self.rows = rows.into_iter().map(|e| e.call.call_id.clone()).collect();
        self.rows_gen = self.store.generation;
        self.rows_at = std::time::Instant::now();
        self.rows_cost = began.elapsed();
        if self.follow {
            self.sel = self.rows.len().saturating_sub(1);
            self.new_rows = 0;
        } else {
            if self.live && self.rows.len() > before {
                self.new_rows += self.rows.len() - before;
            }
            // The selection stays on its call.
            if let Some(c) = current {
                if let Some(i) = self.rows.iter().position(|r| *r == c) {
                    self.sel = i;
                }
            }
            self.sel = self.sel.min(self.rows.len().saturating_sub(1));
        }
    }

    /// The list shown is older than the store (a refresh was held back): draw again soon.
    pub fn list_stale(&self) -> bool {
        !self.paused
            && matches!(self.screen, Screen::List)
            && matches!(self.tab, Tab::Calls | Tab::Other)
            && self.rows_gen != self.store.generation
    }

    /// The list must be recomputed at the next refresh (the filter, sort or tab changed).
    fn invalidate(&mut self) {
        self.rows_gen = u64::MAX;
        let paused = self.paused;
        self.paused = false;
        self.refresh();
        self.paused = paused;
    }

    /// The alerts as listed: most severe first, then in time.
    pub fn alerts_sorted(&self) -> Vec<&sipscope::analysis::alerts::Alert> {
        let mut v: Vec<&sipscope::analysis::alerts::Alert> = self.store.alerts.iter().collect();
        v.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.ts.cmp(&b.ts)));
        v
    }

    pub fn selected(&self) -> Option<&CallEntry> {
        self.rows
            .get(self.sel)
            .and_then(|id| self.store.calls.get(id))
    }

    pub fn open_call(&self) -> Option<&CallEntry> {
        self.call_id
            .as_ref()
            .and_then(|id| self.store.calls.get(id))
    }

    /// How many rows the current tab lists (for moving in tabs that are not the call list).
    fn tab_len(&self) -> usize {
        match self.tab {
            Tab::Calls | Tab::Other => self.rows.len(),
            Tab::Registrations => self.store.regs.len(),
            Tab::Streams => self.store.streams.len(),
            Tab::Alerts => self.store.alerts.len(),
            Tab::Stats => 0,
        }
    }

    fn move_sel(&mut self, delta: isize) {
        let n = self.tab_len();
        if n == 0 {
            return;
        }
        let to = (self.sel as isize + delta).clamp(0, n as isize - 1) as usize;
        self.sel = to;
        self.follow = self.live && to + 1 == n;
        if self.follow {
            self.new_rows = 0;
        }
    }

    pub fn key(&mut self, k: KeyEvent) {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.prompt != Prompt::None {
            self.prompt_key(k);
            return;
        }
        match k.code {
            KeyCode::F(1) | KeyCode::Char('?') | KeyCode::Char('h') => {
                self.screen = if self.screen == Screen::Help {
                    Screen::List
                } else {
                    Screen::Help
                };
                return;
            }
            KeyCode::Char('p') => {
                self.paused = !self.paused;
                self.status = if self.paused {
                    "paused: the view is frozen, capture goes on".into()
                } else {
                    "resumed".into()
                };
                self.refresh();
                return;
            }
            KeyCode::F(2) | KeyCode::Char('w') if self.screen != Screen::Help => {
                self.prompt = Prompt::Save(self.default_save_name());
                return;
            }
            _ => {}
        }
        match self.screen {
            Screen::Help => {
                if matches!(k.code, KeyCode::Esc | KeyCode::Char('q')) {
                    self.screen = Screen::List;
                }
            }
            Screen::List => self.list_key(k),
            Screen::Call => self.call_key(k),
        }
    }

    fn list_key(&mut self, k: KeyEvent) {
        let page = self.page.max(1) as isize;
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') => self.quit = true,
            KeyCode::Tab | KeyCode::BackTab => {
                let i = TABS.iter().position(|(t, _)| *t == self.tab).unwrap_or(0);
                let n = TABS.len();
                let j = if k.code == KeyCode::Tab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.set_tab(TABS[j].0);
            }
            KeyCode::Char(c @ '1'..='6') => {
                let i = c as usize - '1' as usize;
                self.set_tab(TABS[i].0);
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_sel(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_sel(-1),
            KeyCode::PageDown => self.move_sel(page),
            KeyCode::PageUp => self.move_sel(-page),
            KeyCode::Home | KeyCode::Char('g') => self.move_sel(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => {
                self.move_sel(isize::MAX / 2);
                self.follow = self.live;
                self.new_rows = 0;
            }
            KeyCode::Enter => self.enter(),
            KeyCode::Char(' ') => {
                if let Some(id) = self.rows.get(self.sel).cloned() {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                }
            }
            KeyCode::F(7) | KeyCode::Char('f') | KeyCode::Char('/') | KeyCode::F(3) => {
                self.query_before = self.query_text.clone();
                self.prompt = Prompt::Filter(self.query_text.clone());
            }
            KeyCode::Char('s') => {
                let i = SORTS.iter().position(|(s, _)| *s == self.sort).unwrap_or(0);
                self.sort = SORTS[(i + 1) % SORTS.len()].0;
                self.status = format!("sorted by {}", SORTS[(i + 1) % SORTS.len()].1);
                self.invalidate();
            }
            KeyCode::Char('S') => {
                self.desc = !self.desc;
                self.invalidate();
            }
            _ => {}
        }
    }

    fn set_tab(&mut self, t: Tab) {
        if self.tab != t {
            self.tab = t;
            self.sel = 0;
            self.offset = 0;
            self.follow = self.live;
            self.new_rows = 0;
            self.invalidate();
            if !matches!(t, Tab::Calls | Tab::Other) && self.follow {
                self.sel = self.tab_len().saturating_sub(1);
            }
        }
    }

    fn enter(&mut self) {
        let id = match self.tab {
            Tab::Calls | Tab::Other => self.rows.get(self.sel).cloned(),
            // An alert opens its call.
            Tab::Alerts => self
                .alerts_sorted()
                .get(self.sel)
                .and_then(|a| a.call_id.clone()),
            Tab::Streams => self
                .store
                .streams
                .get(self.sel)
                .and_then(|s| s.call_id.clone()),
            Tab::Registrations => self.store.regs.get(self.sel).map(|r| r.call_id.clone()),
            Tab::Stats => None,
        };
        match id {
            Some(id) if self.store.calls.contains_key(&id) => {
                self.call_id = Some(id);
                self.screen = Screen::Call;
                self.msg_sel = 0;
                self.ladder_x = 0;
                self.text_scroll = 0;
                self.compare_with = None;
                self.comparing = false;
            }
            Some(id) => {
                self.status = format!("call {} is no longer in the store", super::view::clean(&id))
            }
            None => {}
        }
    }

    /// Rows of the open call's ladder (set by the view when it draws).
    pub fn ladder_rows(&self) -> usize {
        super::call_view::ladder_of(self).map_or(0, |l| l.rows.len())
    }

    fn call_key(&mut self, k: KeyEvent) {
        let n = self.ladder_rows();
        let mv = |s: &mut App, d: isize| {
            if n > 0 {
                s.msg_sel = (s.msg_sel as isize + d).clamp(0, n as isize - 1) as usize;
                s.text_scroll = 0;
            }
        };
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                if self.comparing {
                    self.comparing = false;
                } else {
                    self.screen = Screen::List;
                }
            }
            KeyCode::Down | KeyCode::Char('j') => mv(self, 1),
            KeyCode::Up | KeyCode::Char('k') => mv(self, -1),
            KeyCode::PageDown => mv(self, self.page.max(1) as isize),
            KeyCode::PageUp => mv(self, -(self.page.max(1) as isize)),
            KeyCode::Home | KeyCode::Char('g') => mv(self, isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => mv(self, isize::MAX / 2),
            KeyCode::Right | KeyCode::Char('L') | KeyCode::Char('l') => {
                self.ladder_x = self.ladder_x.saturating_add(8)
            }
            KeyCode::Left | KeyCode::Char('H') => self.ladder_x = self.ladder_x.saturating_sub(8),
            KeyCode::Char('J') => self.text_scroll = self.text_scroll.saturating_add(1),
            KeyCode::Char('K') => self.text_scroll = self.text_scroll.saturating_sub(1),
            KeyCode::Char('P') => {
                self.by_host = !self.by_host;
                self.msg_sel = 0;
            }
            KeyCode::Char('A') => {
                self.legs = !self.legs;
                self.msg_sel = 0;
                self.status = if self.legs {
                    "B2BUA legs merged".into()
                } else {
                    "one leg".into()
                };
            }
            KeyCode::Char('t') => {
                let mark = self.mark_ts();
                self.time = match self.time {
                    TimeMode::Absolute => TimeMode::SincePrevious,
                    TimeMode::SincePrevious => TimeMode::SinceFirst,
                    TimeMode::SinceFirst => match mark {
                        Some(m) => TimeMode::SinceMark(m),
                        None => TimeMode::Absolute,
                    },
                    TimeMode::SinceMark(_) => TimeMode::Absolute,
                };
                self.status = format!("time: {}", super::view::time_mode_name(self.time));
            }
            KeyCode::Char('m') => {
                if let Some(t) = self.selected_row_ts() {
                    self.time = TimeMode::SinceMark(t);
                    self.status = "time since the marked message".into();
                }
            }
            KeyCode::Char(' ') => {
                self.compare_with = Some(self.msg_sel);
                self.status = "selected for comparison: move to another message and press c".into();
            }
            KeyCode::Char('c') => match self.compare_with {
                Some(a) if a != self.msg_sel => self.comparing = true,
                _ => self.status = "select a message with Space first".into(),
            },
            KeyCode::F(3) | KeyCode::Char('/') => self.prompt = Prompt::Search(self.search.clone()),
            KeyCode::Char('n') => self.find(true),
            KeyCode::Char('N') => self.find(false),
            _ => {}
        }
    }

    fn mark_ts(&self) -> Option<Ts> {
        match self.time {
            TimeMode::SinceMark(t) => Some(t),
            _ => None,
        }
    }

    fn selected_row_ts(&self) -> Option<Ts> {
        super::call_view::ladder_of(self).and_then(|l| l.rows.get(self.msg_sel).map(|r| r.ts))
    }

    /// Moves to the next (or previous) ladder row whose message holds the search text.
    fn find(&mut self, forward: bool) {
        if self.search.is_empty() {
            return;
        }
        let Some(l) = super::call_view::ladder_of(self) else {
            return;
        };
        let needle = self.search.to_lowercase();
        let n = l.rows.len();
        let hit = |i: usize| {
            l.rows[i].label.to_lowercase().contains(&needle)
                || l.rows[i]
                    .text
                    .as_deref()
                    .is_some_and(|t| t.to_lowercase().contains(&needle))
        };
        let order: Vec<usize> = if forward {
            (self.msg_sel + 1..n)
                .chain(0..=self.msg_sel.min(n.saturating_sub(1)))
                .collect()
        } else {
            (0..self.msg_sel)
                .rev()
                .chain((self.msg_sel..n).rev())
                .collect()
        };
        match order.into_iter().find(|&i| hit(i)) {
            Some(i) => {
                self.msg_sel = i;
                self.text_scroll = 0;
                self.status = format!("found {:?}", self.search);
            }
            None => self.status = format!("{:?} not found", self.search),
        }
    }

    fn prompt_key(&mut self, k: KeyEvent) {
        let text = match &mut self.prompt {
            Prompt::Filter(t) | Prompt::Search(t) | Prompt::Save(t) => t,
            Prompt::None => return,
        };
        match k.code {
            KeyCode::Esc => {
                if matches!(self.prompt, Prompt::Filter(_)) {
                    let before = self.query_before.clone();
                    self.apply_filter(&before);
                }
                self.prompt = Prompt::None;
                return;
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            KeyCode::Enter => {
                let p = std::mem::replace(&mut self.prompt, Prompt::None);
                match p {
                    Prompt::Filter(t) => self.apply_filter(&t),
                    Prompt::Search(t) => {
                        self.search = t;
                        self.find(true);
                    }
                    Prompt::Save(t) => self.save(&t),
                    Prompt::None => {}
                }
                return;
            }
            _ => return,
        }
        // The filter applies as it is typed, when it parses.
        if let Prompt::Filter(t) = &self.prompt {
            let t = t.clone();
            if let Ok(q) = Query::parse(&t) {
                self.query = q;
                self.query_text = t;
                self.invalidate();
            }
        }
    }

    fn apply_filter(&mut self, t: &str) {
        match Query::parse(t) {
            Ok(q) => {
                self.query = q;
                self.query_text = t.to_string();
                self.status = if t.trim().is_empty() {
                    "no filter".into()
                } else {
                    format!("filter: {t}")
                };
                self.invalidate();
            }
            Err(e) => {
                // Back to the filter that held before the prompt opened.
                if let Ok(q) = Query::parse(&self.query_before) {
                    self.query = q;
                    self.query_text = self.query_before.clone();
                    self.invalidate();
                }
                self.status = format!("filter not applied: {e}");
            }
        }
    }

    fn default_save_name(&self) -> String {
        match (self.screen, self.call_id.as_deref()) {
            (Screen::Call, Some(id)) => sipscope::output::names::file_name(id, "pcap"),
            _ => "calls.csv".into(),
        }
    }

    fn save(&mut self, name: &str) {
        self.status = match super::save::save(self, name) {
            Ok(msg) => msg,
            Err(e) => format!("not saved: {e}"),
        };
    }
}
