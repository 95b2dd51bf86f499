//! Case-insensitive search on SQLite, folding letters as PostgreSQL's `ILIKE` does, so that a
//! search finds the same on both backends: the Spline consumer's listings, the graph API's
//! node search and the Marquez-compatible search.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::store::rows::like_pattern;
use crate::store::simple_lowercase;

/// A case-insensitive substring search, as PostgreSQL's `ILIKE` does it: both sides lowered
/// (per character, Unicode's simple mapping), `%` and `_` literal.
///
/// SQLite's LIKE folds ASCII letters only. So the term is lowered here, and in the searched
/// text every non-ASCII letter whose lowercase occurs in the term is replaced by that
/// lowercase (`É` by `é` when the term has `é`; `K`, the Kelvin sign, by `k`). Other letters
/// can't match a character of the term either way, so they stay as they are.
pub struct Search {
    /// The LIKE pattern of the lowered term.
    pattern: String,
    /// (letter, its lowercase) to replace in the searched text; letters, never a quote.
    folds: Vec<(char, char)>,
}

impl Search {
    /// The search for `term`.
    pub fn new(term: &str) -> Search {
        let lowered: String = term.chars().map(simple_lowercase).collect();
        let mut targets: Vec<char> = lowered.chars().collect();
        targets.sort_unstable();
        targets.dedup();
        let uppers = uppercase_letters();
        let folds = targets
            .iter()
            .flat_map(|l| uppers.get(l).into_iter().flatten().map(|u| (*u, *l)))
            .filter(|(u, l)| *u != '\'' && *l != '\'')
            // Each fold nests one `replace` per searched row and column; a term of more
            // different letters than this matches the rest case-sensitively.
            .take(MAX_FOLDS)
            .collect();
        Search {
            pattern: like_pattern(&lowered),
            folds,
        }
    }

    /// The LIKE pattern to bind as the parameter [`Search::matches`] names.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// `{column} like {param}`, with the column's letters folded for this term. Text of ASCII
    /// only (as many bytes as characters) has nothing to fold.
    pub fn matches(&self, column: &str, param: &str) -> String {
        if self.folds.is_empty() {
            return format!("{column} like {param} escape '\\'");
        }
        let folded = self.folds.iter().fold(column.to_owned(), |text, (u, l)| {
            format!("replace({text}, '{u}', '{l}')")
        });
        format!(
            "(case when length(cast({column} as blob)) = length({column}) then {column}
                   else {folded} end) like {param} escape '\\'"
        )
    }
}

/// The most letters a search folds.
const MAX_FOLDS: usize = 64;

/// Every non-ASCII character with a different lowercase, by that lowercase.
fn uppercase_letters() -> &'static HashMap<char, Vec<char>> {
    static UPPERS: OnceLock<HashMap<char, Vec<char>>> = OnceLock::new();
    UPPERS.get_or_init(|| {
        let mut uppers: HashMap<char, Vec<char>> = HashMap::new();
        // Cased letters end in the supplementary multilingual plane (Adlam, U+1E900).
        for c in (0x80..0x20000).filter_map(char::from_u32) {
            let lower = simple_lowercase(c);
            if lower != c {
                uppers.entry(lower).or_default().push(c);
            }
        }
        uppers
    })
}
