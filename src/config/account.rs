//! System users and groups named in the configuration (`user`, `group`,
//! `socket_owner`, `socket_group`), looked up when the file is loaded so a
//! misspelt name is a configuration error, not a failure at startup.

use nix::unistd;

/// A system user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    /// The user's primary group.
    pub gid: u32,
}

/// A system group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
}

/// Looks up a user by name; the empty string means "not set".
pub fn user(name: &str) -> Result<Option<User>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    match unistd::User::from_name(name) {
        Ok(Some(user)) => Ok(Some(User {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        })),
        Ok(None) => Err(format!("no user `{name}` on this system")),
        Err(e) => Err(format!("cannot look up user `{name}`: {e}")),
    }
}

/// Looks up a group by name; the empty string means "not set".
pub fn group(name: &str) -> Result<Option<Group>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    match unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(Some(Group {
            name: group.name,
            gid: group.gid.as_raw(),
        })),
        Ok(None) => Err(format!("no group `{name}` on this system")),
        Err(e) => Err(format!("cannot look up group `{name}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_names_and_refuses_unknown_ones() {
        assert_eq!(user("").unwrap(), None);
        assert_eq!(group("").unwrap(), None);
        let root = user("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(group("root").unwrap().unwrap().gid, 0);
        let cases = [
            (user("no-such-user-pf").unwrap_err(), "no user"),
            (group("no-such-group-pf").unwrap_err(), "no group"),
        ];
        for (error, reason) in cases {
            assert!(error.contains(reason), "{error}");
        }
    }
}
