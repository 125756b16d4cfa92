//! The filter typed in the UI: the command line's filters as a small expression, plus free text.
//!
//! `from:REGEX to:REGEX id:CALL-ID method:INVITE addr:IP outcome:busy since:TIME until:TIME`
//! compile into the session's one [`Filter`] (so a key means in the UI what its flag means on the
//! command line), and any other word must appear, case-insensitively, in the call's Call-ID,
//! users, state, User-Agent or reason, or in one of its messages' text.

use regex::RegexBuilder;
use sipscope::correlate::record::Outcome;
use sipscope::session::Filter;
use sipscope::time::Ts;

use super::store::CallEntry;

#[derive(Clone, Debug, Default)]
pub struct Query {
    pub filter: Filter,
    /// Lower-cased words that must all appear somewhere in the call.
    pub words: Vec<String>,
}

impl Query {
    /// Parses an expression; an error names the term that is wrong.
    pub fn parse(s: &str) -> Result<Query, String> {
        let mut q = Query::default();
        for term in s.split_whitespace() {
            let Some((k, v)) = term.split_once(':').filter(|(k, v)| {
                !v.is_empty()
                    && matches!(
                        *k,
                        "from"
                            | "to"
                            | "id"
                            | "call-id"
                            | "method"
                            | "addr"
                            | "outcome"
                            | "since"
                            | "until"
                    )
            }) else {
                q.words.push(term.to_lowercase());
                continue;
            };
            let re = |v: &str| {
                RegexBuilder::new(v)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("{k}: bad regex: {e}"))
            };
            let time = |v: &str| Ts::parse(v).ok_or_else(|| format!("{k}: bad time {v:?}"));
            let f = &mut q.filter;
            match k {
                "from" => f.from = Some(re(v)?),
                "to" => f.to = Some(re(v)?),
                "id" | "call-id" => f.call_id = Some(v.to_string()),
                "method" => f.method = Some(v.to_ascii_uppercase()),
                "addr" => {
                    f.addr = Some(
                        v.parse()
                            .map_err(|_| format!("addr: {v:?} is not an IP address"))?,
                    )
                }
                "outcome" => {
                    f.outcome =
                        Some(Outcome::parse(v).ok_or_else(|| format!("outcome: unknown {v:?}"))?)
                }
                "since" => f.since = Some(time(v)?),
                "until" => f.until = Some(time(v)?),
                _ => unreachable!("keys matched above"),
            }
        }
        Ok(q)
    }

    /// Whether a list cell shows what the filter matched: a word it holds, or the user regex
    /// of its column.
    pub fn highlights(&self, column: &str, text: &str) -> bool {
        let re = match column {
            "from" => self.filter.from.as_ref(),
            "to" => self.filter.to.as_ref(),
            _ => None,
        };
        if re.is_some_and(|r| r.is_match(text)) {
            return true;
        }
        if column == "call-id" && self.filter.call_id.as_deref() == Some(text) {
            return true;
        }
        if column == "state" && self.filter.outcome.is_some() {
            return true;
        }
        let lower = text.to_lowercase();
        self.words.iter().any(|w| lower.contains(w.as_str()))
    }

    /// The call passes the filter and holds every word.
    pub fn call(&self, e: &CallEntry) -> bool {
        if !self.filter.call(&e.call) {
            return false;
        }
        self.words.iter().all(|w| contains_word(e, w))
    }
}

fn has(hay: &str, w: &str) -> bool {
    hay.to_lowercase().contains(w)
}

fn contains_word(e: &CallEntry, w: &str) -> bool {
    let c = &e.call;
    has(&c.call_id, w)
        || has(&c.from, w)
        || has(&c.to, w)
        || has(&e.state(), w)
        || c.user_agent.as_deref().is_some_and(|u| has(u, w))
        || c.reason.as_deref().is_some_and(|r| has(r, w))
        || e.msgs
            .iter()
            .any(|m| m.text.as_deref().is_some_and(|t| has(t, w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compile_into_the_session_filter_and_words_stay_words() {
        let q = Query::parse("from:^al to:bob method:invite addr:10.0.0.1 outcome:busy 486 Busy")
            .unwrap();
        assert!(q.filter.from.as_ref().unwrap().is_match("Alice"));
        assert_eq!(q.filter.method.as_deref(), Some("INVITE"));
        assert_eq!(q.filter.addr, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(q.filter.outcome, Some(Outcome::Busy));
        assert_eq!(q.words, ["486", "busy"]);
        // Not a key: a word with a colon stays a word (an address, a URI).
        let q = Query::parse("sip:bob@x").unwrap();
        assert_eq!(q.words, ["sip:bob@x"]);
    }

    #[test]
    fn highlights_what_matched() {
        let q = Query::parse("from:^al busy").unwrap();
        assert!(q.highlights("from", "alice"));
        assert!(!q.highlights("to", "alice"));
        assert!(q.highlights("state", "busy"));
        assert!(q.highlights("call-id", "busy-1@x"));
        assert!(!q.highlights("state", "answered"));
        assert!(!Query::default().highlights("from", "alice"));
    }

    #[test]
    fn errors_name_the_term() {
        assert!(Query::parse("from:(").unwrap_err().starts_with("from:"));
        assert!(Query::parse("addr:nothost")
            .unwrap_err()
            .starts_with("addr:"));
        assert!(Query::parse("outcome:great")
            .unwrap_err()
            .starts_with("outcome:"));
    }
}
