//! Finding things from what a person typed: a full id, a unique id prefix,
//! or a unique name. Ambiguity is an error that lists the candidates,
//! never a guess.

use safespaces_core::app::{DeviceInfo, Journal, SafeSpaces, Space};
use safespaces_core::model::{EntryId, Member, MemberId, Session, SessionId};

use crate::failure::Failure;

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

/// The space `typed` names among this device's spaces.
pub fn find_space(app: &SafeSpaces, typed: &str) -> Result<Space, Failure> {
    let spaces = app.spaces()?;
    let candidates: Vec<(String, String, String)> = spaces
        .into_iter()
        .map(|s| (s.id.clone(), s.name, s.id))
        .collect();
    let id = pick("space", typed, &candidates)?;
    Ok(app.space(id)?)
}

/// The session `typed` names (id, id prefix or title).
pub fn find_session(space: &Space, typed: &str) -> Result<(SessionId, Session), Failure> {
    let sessions = space.sessions()?;
    let candidates: Vec<(String, String, (SessionId, Session))> = sessions
        .into_iter()
        .map(|(id, s)| (id.to_string(), s.title.clone(), (id, s)))
        .collect();
    Ok(pick("session", typed, &candidates)?.clone())
}

/// The current member `typed` names (id, id prefix or pseudonym); people
/// who left or were removed are not candidates.
pub fn find_member(space: &Space, typed: &str) -> Result<(MemberId, Member), Failure> {
    let members = space.members()?;
    let candidates: Vec<(String, String, (MemberId, Member))> = members
        .into_iter()
        .filter(|(_, m)| m.is_active())
        .map(|(id, m)| (id.to_string(), m.pseudonym.clone(), (id, m)))
        .collect();
    Ok(pick("member", typed, &candidates)?.clone())
}

/// The journal entry `typed` names (id or id prefix: entries have no
/// names).
pub fn find_entry(journal: &Journal, typed: &str) -> Result<EntryId, Failure> {
    let entries = journal.entries()?;
    let candidates: Vec<(String, String, EntryId)> = entries
        .into_iter()
        .map(|e| (e.id.to_string(), String::new(), e.id))
        .collect();
    Ok(pick("journal entry", typed, &candidates)?.clone())
}

/// The device of the person's own `typed` names (id, id prefix or the
/// name given here).
pub fn find_device(devices: &[DeviceInfo], typed: &str) -> Result<DeviceInfo, Failure> {
    let candidates: Vec<(String, String, DeviceInfo)> = devices
        .iter()
        .map(|d| {
            (
                d.id.to_string(),
                d.name.clone().unwrap_or_default(),
                d.clone(),
            )
        })
        .collect();
    Ok(pick("device", typed, &candidates)?.clone())
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
