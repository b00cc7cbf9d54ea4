//! Finding things from what a person typed: a full id, a unique id prefix,
//! or a unique name. Ambiguity is an error that lists the candidates,
//! never a guess.

use crate::Failure;

/// Picks the one candidate matching `typed` by id, id prefix (at least 4
/// characters) or name (case-insensitive).
pub fn pick<'a, T>(
    what: &str,
    typed: &str,
    candidates: &'a [(String, String, T)],
) -> Result<&'a T, Failure> {
    let typed_lower = typed.trim().to_lowercase();
    if let Some((_, _, t)) = candidates.iter().find(|(id, _, _)| id == typed.trim()) {
        return Ok(t);
    }
    let matches: Vec<&(String, String, T)> = candidates
        .iter()
        .filter(|(id, name, _)| {
            (typed_lower.len() >= 4 && id.starts_with(&typed_lower))
                || name.to_lowercase() == typed_lower
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(&one.2),
        [] => Err(Failure::refused(format!("no {what} matches {typed:?}"))),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|(id, name, _)| format!("{id} ({name})"))
                .collect();
            Err(Failure::refused(format!(
                "{typed:?} matches more than one {what}: {}; use more of the id",
                names.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_prefixes_and_names_resolve_but_ambiguity_is_refused() {
        let c = vec![
            ("abcd1234".to_string(), "Yoga".to_string(), 1),
            ("abce9999".to_string(), "Walk".to_string(), 2),
        ];
        assert_eq!(*pick("session", "abcd1234", &c).unwrap(), 1);
        assert_eq!(*pick("session", "abce", &c).unwrap(), 2);
        assert_eq!(*pick("session", "yoga", &c).unwrap(), 1);
        assert!(pick("session", "abc", &c).is_err());
        assert!(pick("session", "swim", &c).is_err());
        let twins = vec![
            ("a1".to_string(), "Sam".to_string(), 1),
            ("b2".to_string(), "sam".to_string(), 2),
        ];
        assert!(
            pick("member", "Sam", &twins)
                .unwrap_err()
                .message
                .contains("more than one")
        );
    }
}
