//! The vpcd readers pcscd offers, predicted from its `reader.conf.d` files: (TCP port, PC/SC
//! reader name) pairs, Debian's default pair first.
//!
//! What this relies on, read in pcsc-lite's `configfile.l` and vsmartcard's `ifd-vpcd.c` and
//! measured on Debian 12 with pcscd 1.9.9 and vpcd 3.3 (docs/platform.md, "Sixteen vpcd
//! readers"; `reader.conf(5)`):
//! - pcscd reads every regular file of the folder whose name does not start with a dot (links
//!   are skipped), in directory order, which is no order at all: so this module's answer must
//!   not depend on the order of the files.
//! - The lexer: `#` starts a comment up to the end of the line; a key and its value are on one
//!   line; a value is a word of `A-Z a-z 0-9 = \ / - . _ @ :` or a string in `"…"` or `'…'`.
//!   Any other character (a carriage return too), an unknown key, a field given twice before its
//!   entry is complete, a value on the next line, or a LIBPATH (or a DEVICENAME without `:`) that
//!   does not exist is an error, and one error in any file makes pcscd refuse to start.
//! - An entry is added as soon as it has a FRIENDLYNAME, a LIBPATH and a DEVICENAME or a
//!   CHANNELID: a field after that point starts the next entry (Debian's file puts CHANNELID
//!   last, so its value passes to the next entry of the file, if any).
//! - A FRIENDLYNAME's `"` are removed (not `'`). Its readers are `<FRIENDLYNAME> 00 00` and
//!   `<FRIENDLYNAME> 00 01` whatever other entries are called: two entries of one name give
//!   readers of the same name (the middle number counts only hot-plugged readers).
//! - vpcd's port is in DEVICENAME, `/dev/null:PORT`, read as C's `strtoul` with base 0 (`0x…`
//!   hex, `0…` octal, else decimal); 35963 without a `:`; the CHANNELID only when there is no
//!   DEVICENAME. Slot s listens on PORT + s. A host other than `/dev/null` makes vpcd connect
//!   out to a card instead of listening: no card of ours can plug into it.
//! - vpcd keeps its connections in the globals of the loaded driver, so entries loading one file
//!   of the library (one path, or two paths to one file) take each other's connections.
//! - pcsc-lite takes at most 16 readers.
//!
//! [`parse`] is pure: what it needs of the file system (does a path exist, which file is it) is
//! handed in. [`read_reader_conf`] is the one function that reads files.

use std::collections::HashSet;
use std::path::Path;

/// Where pcscd reads its reader configuration.
pub const READER_CONF_DIR: &str = "/etc/reader.conf.d";
/// pcsc-lite's limit on readers (`PCSCLITE_MAX_READERS_CONTEXTS`).
pub const MAX_READERS: usize = 16;
/// Debian's vpcd entry: FRIENDLYNAME and base port.
const DEFAULT_NAME: &str = "Virtual PCD";
const DEFAULT_PORT: u16 = card_emulator::vpcd::DEFAULT_PORT;
/// Readers per vpcd entry (`VPCDSLOTS` of Debian's build).
const SLOTS: u16 = 2;
/// pcsc-lite's `MAX_READERNAME` (128) less `" 00 00"` and the final NUL.
const MAX_FRIENDLYNAME: usize = 121;
/// The file name of vpcd's driver and of its copies.
const VPCD_LIBRARY: &str = "libifdvpcd";

/// One file of the folder: its name and its text.
#[derive(Clone, Copy, Debug)]
pub struct ConfFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// What the file system says of a path, as stat(2) sees it: `None` when it does not exist, else
/// a key naming the file itself (two paths to one file give the same key, as the dynamic loader
/// loads one file once).
pub type Stat<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The vpcd readers a set of files declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VpcdConf {
    /// (port, PC/SC reader name): the default pair (port 35963) first, then by port.
    pub readers: Vec<(u16, String)>,
    /// Entries left out, and why, as `file:line: reason`.
    pub notes: Vec<String>,
    /// Why pcscd would refuse to start with these files (then there is no reader at all).
    pub refused: Option<String>,
}

impl VpcdConf {
    /// The readers, or Debian's default two when there are none.
    pub fn readers_or_default(&self) -> Vec<(u16, String)> {
        if self.readers.is_empty() {
            default_readers()
        } else {
            self.readers.clone()
        }
    }
}

/// Debian's two vpcd readers: "Virtual PCD 00 00" on 35963 and "Virtual PCD 00 01" on 35964.
pub fn default_readers() -> Vec<(u16, String)> {
    (0..SLOTS)
        .map(|slot| (DEFAULT_PORT + slot, reader_name(DEFAULT_NAME, slot)))
        .collect()
}

/// The vpcd readers of `/etc/reader.conf.d`, or the default two when it declares none.
pub fn installed_vpcd_readers() -> Vec<(u16, String)> {
    read_reader_conf(Path::new(READER_CONF_DIR)).readers_or_default()
}

/// The PC/SC name pcscd gives slot `slot` of an entry.
fn reader_name(friendly: &str, slot: u16) -> String {
    format!("{friendly} 00 {slot:02X}")
}

/// One entry as pcscd adds it.
#[derive(Debug)]
struct Entry {
    line: usize,
    name: String,
    /// Empty when the entry has none (pcscd's default).
    device: String,
    channel: Option<String>,
    lib: String,
    /// Which file the library is (`Stat`).
    lib_file: String,
}

/// A vpcd entry that could serve cards.
#[derive(Debug)]
struct Candidate {
    at: String,
    file: String,
    line: usize,
    name: String,
    ports: [u16; SLOTS as usize],
    lib_file: String,
}

/// The vpcd readers `files` declare, whatever order they come in. `stat` answers for paths.
pub fn parse(files: &[ConfFile<'_>], stat: Stat<'_>) -> VpcdConf {
    let mut files: Vec<ConfFile<'_>> = files.to_vec();
    files.sort_by(|a, b| a.name.cmp(b.name).then(a.text.cmp(b.text)));
    let mut conf = VpcdConf::default();
    let mut candidates = Vec::new();
    for file in &files {
        let entries = match entries_of(file.text, stat) {
            Ok(entries) => entries,
            Err((line, why)) => {
                conf.refused = Some(format!("{}:{line}: {why}", file.name));
                return conf;
            }
        };
        for entry in entries {
            let at = format!("{}:{}", file.name, entry.line);
            match candidate(&entry) {
                Ok(Some(ports)) => candidates.push(Candidate {
                    at,
                    file: file.name.to_owned(),
                    line: entry.line,
                    name: entry.name,
                    ports,
                    lib_file: entry.lib_file,
                }),
                Ok(None) => {}
                Err(why) => conf.notes.push(format!("{at}: {why}")),
            }
        }
    }
    candidates.sort_by(|a, b| {
        (
            a.ports[0] != DEFAULT_PORT,
            a.ports[0],
            &a.name,
            &a.file,
            a.line,
        )
            .cmp(&(
                b.ports[0] != DEFAULT_PORT,
                b.ports[0],
                &b.name,
                &b.file,
                b.line,
            ))
    });
    let (mut ports, mut names, mut libs) = (HashSet::new(), HashSet::new(), HashSet::new());
    for c in candidates {
        let readers: Vec<(u16, String)> = (0..SLOTS)
            .map(|slot| (c.ports[usize::from(slot)], reader_name(&c.name, slot)))
            .collect();
        let why = if let Some((port, _)) = readers.iter().find(|(p, _)| ports.contains(p)) {
            Some(format!(
                "port {port} is another entry's: only one can listen on it"
            ))
        } else if let Some((_, name)) = readers.iter().find(|(_, n)| names.contains(n)) {
            Some(format!(
                "`{name}` is another entry's reader name too: PC/SC cannot tell them apart"
            ))
        } else if libs.contains(&c.lib_file) {
            Some(
                "its driver file is another entry's: vpcd's connections would collide (each \
                 entry needs its own copy)"
                    .to_owned(),
            )
        } else {
            None
        };
        if let Some(why) = why {
            conf.notes.push(format!("{}: {why}", c.at));
            continue;
        }
        for (port, name) in readers {
            ports.insert(port);
            names.insert(name.clone());
            conf.readers.push((port, name));
        }
        libs.insert(c.lib_file);
    }
    if conf.readers.len() > MAX_READERS {
        conf.notes.push(format!(
            "{} vpcd readers declared: pcscd takes at most {MAX_READERS} readers in all, and \
             which are left out depends on the order it reads the files",
            conf.readers.len()
        ));
    }
    conf
}

/// A vpcd entry's ports; `None` for another driver's entry; an error when pcscd or vpcd would
/// not make usable readers of it.
fn candidate(entry: &Entry) -> Result<Option<[u16; SLOTS as usize]>, String> {
    let file_name = entry.lib.rsplit('/').next().unwrap_or_default();
    if !file_name.starts_with(VPCD_LIBRARY) {
        return Ok(None);
    }
    if entry.name.len() > MAX_FRIENDLYNAME {
        return Err(format!(
            "a FRIENDLYNAME longer than {MAX_FRIENDLYNAME} bytes: pcscd refuses the entry"
        ));
    }
    let base = if entry.device.is_empty() {
        // pcscd keeps the channel as a C int and hands it on as an unsigned long.
        let channel = entry.channel.as_deref().unwrap_or_default();
        let value = strtoul(channel).unwrap_or(u64::MAX);
        (value as u32 as i32) as i64 as u64
    } else {
        match entry.device.split_once(':') {
            None => u64::from(DEFAULT_PORT),
            Some((host, _)) if host != "/dev/null" => {
                return Err(format!(
                    "DEVICENAME `{}`: vpcd connects out to a card at `{host}`, no card plugs in",
                    entry.device
                ))
            }
            Some((_, port)) => strtoul(port)
                .ok_or_else(|| format!("DEVICENAME `{}`: port out of range", entry.device))?,
        }
    };
    let mut ports = [0u16; SLOTS as usize];
    for (slot, port) in ports.iter_mut().enumerate() {
        // vpcd: (unsigned short) (Channel + slot).
        *port = base.wrapping_add(slot as u64) as u16;
        if *port == 0 {
            return Err("a port of 0: vpcd would listen on a port chosen by the system".into());
        }
    }
    Ok(Some(ports))
}

/// C's `strtoul(text, NULL, 0)`: leading white space, a sign, `0x` hex, `0` octal, else
/// decimal, the longest prefix of digits (none: 0); `None` where it overflows (ERANGE).
fn strtoul(text: &str) -> Option<u64> {
    let s = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let bytes = s.as_bytes();
    let (radix, digits) = if bytes.len() > 2
        && bytes[0] == b'0'
        && (bytes[1] | 0x20) == b'x'
        && bytes[2].is_ascii_hexdigit()
    {
        (16, &s[2..])
    } else if bytes.first() == Some(&b'0') {
        (8, s)
    } else {
        (10, s)
    };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(d))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// The entries of one file in pcscd's order, or the line and reason it refuses the file for.
fn entries_of(text: &str, stat: Stat<'_>) -> Result<Vec<Entry>, (usize, String)> {
    let mut state = FileState::default();
    let chars: Vec<char> = text.chars().collect();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\n' => {
                line += 1;
                i += 1;
            }
            ' ' | '\t' => i += 1,
            '"' | '\'' => {
                // Up to the same quote or the end of the line, which the string then holds
                // (and the line count misses, as pcscd's does).
                let Some(len) = chars[i + 1..].iter().position(|&d| d == c || d == '\n') else {
                    return Err((line, format!("a {c} that no {c} or line end closes")));
                };
                let token: String = chars[i..=i + 1 + len].iter().collect();
                i += len + 2;
                state.token(token, line, stat)?;
            }
            c if is_word(c) => {
                let start = i;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                state.token(chars[start..i].iter().collect(), line, stat)?;
            }
            other => return Err((line, format!("pcscd cannot read the character {other:?}"))),
        }
    }
    Ok(state.entries)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '=' | '\\' | '/' | '-' | '.' | '_' | '@' | ':')
}

/// pcsc-lite's `evaluatetoken`: the key waiting for its value, the fields so far.
#[derive(Default)]
struct FileState {
    key: Option<(String, usize)>,
    name: Option<(String, usize)>,
    device: Option<String>,
    lib: Option<(String, String)>,
    channel: Option<String>,
    entries: Vec<Entry>,
}

impl FileState {
    fn token(&mut self, token: String, line: usize, stat: Stat<'_>) -> Result<(), (usize, String)> {
        let Some((key, key_line)) = self.key.take() else {
            self.key = Some((token, line));
            return Ok(());
        };
        let error = |why: String| Err((key_line, why));
        if key_line != line {
            return error(format!("`{key}` without a value on its line"));
        }
        let twice = || Err((key_line, format!("{key} twice in one entry")));
        match key.as_str() {
            "FRIENDLYNAME" if self.name.is_some() => return twice(),
            "FRIENDLYNAME" => self.name = Some((token.replace('"', ""), line)),
            "DEVICENAME" if self.device.is_some() => return twice(),
            "DEVICENAME" => {
                if !token.contains(':') && stat(&token).is_none() {
                    return error(format!("DEVICENAME {token} does not exist"));
                }
                self.device = Some(token);
            }
            "LIBPATH" if self.lib.is_some() => return twice(),
            "LIBPATH" => {
                let Some(file) = stat(&token) else {
                    return error(format!("LIBPATH {token} does not exist"));
                };
                self.lib = Some((token, file));
            }
            "CHANNELID" if self.channel.is_some() => return twice(),
            "CHANNELID" => self.channel = Some(token),
            _ => return error(format!("unknown key `{key}`")),
        }
        if self.name.is_some()
            && self.lib.is_some()
            && (self.device.is_some() || self.channel.is_some())
        {
            let (Some((name, line)), Some((lib, lib_file))) = (self.name.take(), self.lib.take())
            else {
                return Ok(());
            };
            self.entries.push(Entry {
                line,
                name,
                device: self.device.take().unwrap_or_default(),
                channel: self.channel.take(),
                lib,
                lib_file,
            });
        }
        Ok(())
    }
}

/// Reads the configuration files of `dir` as pcscd does (regular files whose name does not
/// start with a dot) and parses them, asking the file system about their paths. A folder that
/// cannot be read declares nothing.
pub fn read_reader_conf(dir: &Path) -> VpcdConf {
    use std::os::unix::fs::MetadataExt;
    let Ok(listing) = std::fs::read_dir(dir) else {
        return VpcdConf::default();
    };
    let mut texts = Vec::new();
    let mut unreadable = None;
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The entry's own type, as pcscd's readdir sees it: a link is skipped.
        if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match std::fs::read(entry.path()) {
            Ok(bytes) => texts.push((name, String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) => unreadable = Some(format!("{}: cannot be read: {e}", entry.path().display())),
        }
    }
    let files: Vec<ConfFile<'_>> = texts
        .iter()
        .map(|(name, text)| ConfFile { name, text })
        .collect();
    let stat = |path: &str| {
        std::fs::metadata(path)
            .ok()
            .map(|m| format!("{}:{}", m.dev(), m.ino()))
    };
    let mut conf = parse(&files, &stat);
    if let Some(why) = unreadable {
        conf.readers.clear();
        conf.refused = Some(why);
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEBIAN: &str = "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x8C7B\n\
                          LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\n\
                          CHANNELID    0x8C7B\n";

    /// What a text should give: (port, reader name).
    type Pairs = &'static [(u16, &'static str)];

    /// Every path exists and is a file of its own.
    fn exists(path: &str) -> Option<String> {
        Some(path.to_owned())
    }

    fn conf(files: &[(&str, &str)]) -> VpcdConf {
        let files: Vec<ConfFile<'_>> = files
            .iter()
            .map(|(name, text)| ConfFile { name, text })
            .collect();
        parse(&files, &exists)
    }

    fn readers(files: &[(&str, &str)]) -> Vec<(u16, String)> {
        conf(files).readers
    }

    fn pairs(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(p, n)| (*p, (*n).to_owned())).collect()
    }

    /// The file `.ci/vpcd-readers` writes.
    fn script_file() -> String {
        let mut text = String::from("# Written by myna-hil's .ci/vpcd-readers\n");
        for k in 1..=7u16 {
            let port = 29961 + 2 * k;
            text += &format!(
                "\n# \"Virtual PCD {k} 00 00\" on port {port}\nFRIENDLYNAME \"Virtual PCD {k}\"\n\
                 DEVICENAME   /dev/null:{port}\nCHANNELID    {port}\n\
                 LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd-{k}.so\n"
            );
        }
        text
    }

    fn entry(name: &str, port: &str, lib: &str) -> String {
        format!(
            "FRIENDLYNAME \"{name}\"\nDEVICENAME /dev/null:{port}\nLIBPATH {lib}\nCHANNELID 1\n"
        )
    }

    #[test]
    fn debian_alone_gives_the_default_pair() {
        assert_eq!(readers(&[("vpcd", DEBIAN)]), default_readers());
        assert_eq!(
            default_readers(),
            pairs(&[(35963, "Virtual PCD 00 00"), (35964, "Virtual PCD 00 01")])
        );
    }

    #[test]
    fn the_scripts_file_gives_sixteen_readers_default_first() {
        let script = script_file();
        for files in [
            vec![("vpcd", DEBIAN), ("myna-hil-vpcd", script.as_str())],
            vec![("myna-hil-vpcd", script.as_str()), ("vpcd", DEBIAN)],
        ] {
            let c = conf(&files);
            assert_eq!(c.refused, None);
            assert_eq!(c.notes, Vec::<String>::new());
            assert_eq!(c.readers.len(), MAX_READERS);
            assert_eq!(c.readers[..2], default_readers()[..]);
            assert_eq!(c.readers[2], (29963, "Virtual PCD 1 00 00".to_owned()));
            assert_eq!(c.readers[3], (29964, "Virtual PCD 1 00 01".to_owned()));
            assert_eq!(c.readers[15], (29976, "Virtual PCD 7 00 01".to_owned()));
        }
    }

    #[test]
    fn nothing_found_falls_back_to_the_default_pair() {
        assert_eq!(conf(&[]).readers_or_default(), default_readers());
        let other = "FRIENDLYNAME \"Twin\"\nDEVICENAME /dev/null\nLIBPATH /x/libccidtwin.so\n";
        assert_eq!(readers(&[("libccidtwin", other)]), vec![]);
    }

    /// Odd inputs, each with the readers pcscd makes of it (checked against pcscd 1.9.9 where
    /// the comment says "measured").
    #[test]
    fn odd_inputs() {
        let table: &[(&str, &str, Pairs)] = &[
            ("empty", "", &[]),
            ("comments only", "# FRIENDLYNAME \"A\"\n   # more\n", &[]),
            (
                "comments everywhere, fields in another order (measured)",
                "# x\nLIBPATH /l/libifdvpcd-1.so # y\nCHANNELID 29963\n\
                 DEVICENAME /dev/null:0x750B\nFRIENDLYNAME \"A\" # z\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "a # inside quotes belongs to the name",
                "FRIENDLYNAME \"A#1\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "A#1 00 00"), (29964, "A#1 00 01")],
            ),
            (
                "single quotes stay in the name",
                "FRIENDLYNAME 'A'\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "'A' 00 00"), (29964, "'A' 00 01")],
            ),
            (
                "an unquoted name",
                "FRIENDLYNAME Reader-1\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "Reader-1 00 00"), (29964, "Reader-1 00 01")],
            ),
            (
                "decimal port",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "hex port, upper-case X",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:0X750b\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "a leading zero is octal: 029969 is 02 (measured: port 2)",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:029969\nLIBPATH /l/libifdvpcd.so\n",
                &[(2, "A 00 00"), (3, "A 00 01")],
            ),
            (
                "no port after /dev/null: vpcd's default",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null\nLIBPATH /l/libifdvpcd.so\n",
                &[(35963, "A 00 00"), (35964, "A 00 01")],
            ),
            (
                "no DEVICENAME: the CHANNELID in hex (measured)",
                "FRIENDLYNAME \"A\"\nLIBPATH /l/libifdvpcd.so\nCHANNELID 0x750B\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "no DEVICENAME: the CHANNELID in decimal",
                "FRIENDLYNAME \"A\"\nLIBPATH /l/libifdvpcd.so\nCHANNELID 29963\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "the CHANNELID does not matter when there is a DEVICENAME",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nCHANNELID 0x8C7B\n\
                 LIBPATH /l/libifdvpcd.so\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "no CHANNELID (measured)",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "no LIBPATH: never complete",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nCHANNELID 1\n",
                &[],
            ),
            (
                "no DEVICENAME and no CHANNELID: never complete",
                "FRIENDLYNAME \"A\"\nLIBPATH /l/libifdvpcd.so\n",
                &[],
            ),
            (
                "no FRIENDLYNAME: the next entry's name takes this entry's fields (measured)",
                "DEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd-1.so\nCHANNELID 1\n\n\
                 FRIENDLYNAME \"B\"\nDEVICENAME /dev/null:29965\nLIBPATH /l/libifdvpcd-2.so\n\
                 CHANNELID 2\n",
                &[(29963, "B 00 00"), (29964, "B 00 01")],
            ),
            (
                "a key without a value at the very end is no error",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd.so\nCHANNELID",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "Debian's order twice in one file: each CHANNELID passes to the next entry",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd-1.so\n\
                 CHANNELID 1\nFRIENDLYNAME \"B\"\nDEVICENAME /dev/null:29965\n\
                 LIBPATH /l/libifdvpcd-2.so\nCHANNELID 2\n",
                &[(29963, "A 00 00"), (29964, "A 00 01"), (29965, "B 00 00"), (29966, "B 00 01")],
            ),
            (
                "another driver's entry is not a vpcd reader",
                "FRIENDLYNAME \"Twin\"\nDEVICENAME /dev/ttyS0:x\nLIBPATH /l/libccidtwin.so\nCHANNELID 1\n",
                &[],
            ),
            (
                "a host: vpcd connects out, no card plugs in",
                "FRIENDLYNAME \"A\"\nDEVICENAME localhost:29963\nLIBPATH /l/libifdvpcd.so\n",
                &[],
            ),
            (
                "port 65535: slot 1 would be port 0",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:65535\nLIBPATH /l/libifdvpcd.so\n",
                &[],
            ),
            (
                "a port beyond 65535 wraps as vpcd's unsigned short does",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:95499\nLIBPATH /l/libifdvpcd.so\n",
                &[(29963, "A 00 00"), (29964, "A 00 01")],
            ),
            (
                "a port beyond unsigned long",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:99999999999999999999999\n\
                 LIBPATH /l/libifdvpcd.so\n",
                &[],
            ),
        ];
        for (what, text, want) in table {
            let c = conf(&[("f", text)]);
            assert_eq!(c.refused, None, "{what}");
            assert_eq!(c.readers, pairs(want), "{what}");
        }
    }

    /// Inputs with which pcscd refuses to start (measured: CRLF, a missing library, a
    /// CHANNELID given twice).
    #[test]
    fn refused_inputs() {
        let table: &[(&str, &str, usize)] = &[
            (
                "CRLF line ends",
                "FRIENDLYNAME \"A\"\r\nDEVICENAME /dev/null:29963\r\nLIBPATH /l/libifdvpcd.so\r\n",
                1,
            ),
            ("an unknown key", "FRIENDLYNAME \"A\"\nPORT 29963\n", 2),
            ("a value on the next line", "FRIENDLYNAME\n\"A\"\n", 1),
            (
                "a field twice",
                "FRIENDLYNAME \"A\"\nFRIENDLYNAME \"B\"\n",
                2,
            ),
            (
                "a CHANNELID before LIBPATH after an entry in Debian's order (measured)",
                "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd-1.so\n\
                 CHANNELID 1\nFRIENDLYNAME \"B\"\nDEVICENAME /dev/null:29965\nCHANNELID 2\n\
                 LIBPATH /l/libifdvpcd-2.so\n",
                7,
            ),
            ("a character outside the words", "FRIENDLYNAME A,B\n", 1),
            ("an unclosed quote at the end", "FRIENDLYNAME \"A", 1),
        ];
        for (what, text, line) in table {
            let c = conf(&[("vpcd", DEBIAN), ("f", text)]);
            assert_eq!(c.readers, vec![], "{what}");
            let refused = c.refused.unwrap_or_else(|| panic!("{what}: not refused"));
            assert!(
                refused.starts_with(&format!("f:{line}: ")),
                "{what}: {refused}"
            );
        }
    }

    #[test]
    fn paths_that_do_not_exist_are_refused() {
        let no_lib = |p: &str| (!p.contains("libifdvpcd-2")).then(|| p.to_owned());
        let files = [ConfFile {
            name: "f",
            text: "FRIENDLYNAME \"A\"\nDEVICENAME /dev/null:29963\nLIBPATH /l/libifdvpcd-2.so\n",
        }];
        let c = parse(&files, &no_lib);
        assert_eq!(c.readers, vec![]);
        assert_eq!(
            c.refused.as_deref(),
            Some("f:3: LIBPATH /l/libifdvpcd-2.so does not exist")
        );
        // A DEVICENAME without `:` must exist; one with `:` is not looked at.
        let no_dev = |p: &str| (!p.starts_with("/dev/")).then(|| p.to_owned());
        let files = [ConfFile {
            name: "f",
            text: "FRIENDLYNAME \"A\"\nDEVICENAME /dev/nope\nLIBPATH /l/libifdvpcd.so\n",
        }];
        assert!(parse(&files, &no_dev).refused.is_some());
        let files = [ConfFile {
            name: "f",
            text: DEBIAN,
        }];
        assert_eq!(parse(&files, &no_dev).readers, default_readers());
    }

    #[test]
    fn duplicate_ports_keep_one_entry_whatever_the_file_order() {
        // A backup copy of Debian's file (measured: pcscd lists two readers).
        for files in [
            [("vpcd", DEBIAN), ("vpcd.orig", DEBIAN)],
            [("vpcd.orig", DEBIAN), ("vpcd", DEBIAN)],
        ] {
            let c = conf(&files);
            assert_eq!(c.readers, default_readers());
            assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        }
        // Two names on one port: the first by name keeps it, in either file order.
        let a = entry("A", "29963", "/l/libifdvpcd-1.so");
        let b = entry("B", "29963", "/l/libifdvpcd-2.so");
        for files in [
            [("1", a.as_str()), ("2", b.as_str())],
            [("1", b.as_str()), ("2", a.as_str())],
        ] {
            let c = conf(&files);
            assert_eq!(c.readers, pairs(&[(29963, "A 00 00"), (29964, "A 00 01")]));
            assert!(
                c.notes[0].contains("port 29963 is another entry's"),
                "{:?}",
                c.notes
            );
        }
        // Overlapping pairs: 29963-29964 and 29964-29965.
        let b = entry("B", "29964", "/l/libifdvpcd-2.so");
        let c = conf(&[("1", &a), ("2", &b)]);
        assert_eq!(c.readers, pairs(&[(29963, "A 00 00"), (29964, "A 00 01")]));
        assert!(c.notes[0].starts_with("2:1: port 29964"), "{:?}", c.notes);
    }

    #[test]
    fn one_name_twice_keeps_the_lower_port() {
        // Measured: pcscd names both entries' readers "Virtual PCD 00 00" and "… 00 01".
        let second = entry("Virtual PCD", "29963", "/l/libifdvpcd-1.so");
        let c = conf(&[("vpcd", DEBIAN), ("zz", &second)]);
        assert_eq!(c.readers, default_readers());
        assert!(
            c.notes[0].contains("PC/SC cannot tell them apart"),
            "{:?}",
            c.notes
        );
        let a = entry("A", "29965", "/l/libifdvpcd-1.so");
        let a2 = entry("A", "29963", "/l/libifdvpcd-2.so");
        assert_eq!(
            readers(&[("1", &a), ("2", &a2)]),
            pairs(&[(29963, "A 00 00"), (29964, "A 00 01")])
        );
    }

    #[test]
    fn one_driver_file_for_two_entries_keeps_one() {
        let a = entry("A", "29963", "/l/libifdvpcd.so");
        let b = entry("B", "29965", "/l/libifdvpcd.so");
        let c = conf(&[("1", &a), ("2", &b)]);
        assert_eq!(c.readers, pairs(&[(29963, "A 00 00"), (29964, "A 00 01")]));
        assert!(c.notes[0].contains("its own copy"), "{:?}", c.notes);
        // Two paths to one file (a link) are one file too.
        let b = entry("B", "29965", "/l/libifdvpcd.so.0.8");
        let same = |p: &str| Some(p.trim_end_matches(".0.8").to_owned());
        let files = [
            ConfFile {
                name: "1",
                text: &a,
            },
            ConfFile {
                name: "2",
                text: &b,
            },
        ];
        assert_eq!(parse(&files, &same).readers.len(), 2);
    }

    #[test]
    fn long_names_and_too_many_readers_are_noted() {
        let long = "N".repeat(MAX_FRIENDLYNAME + 1);
        let c = conf(&[("f", &entry(&long, "29963", "/l/libifdvpcd.so"))]);
        assert_eq!(c.readers, vec![]);
        assert!(c.notes[0].contains("longer than 121"), "{:?}", c.notes);
        let ok = "N".repeat(MAX_FRIENDLYNAME);
        assert_eq!(
            readers(&[("f", &entry(&ok, "29963", "/l/libifdvpcd.so"))]).len(),
            2
        );
        let mut many = String::new();
        for k in 0..9 {
            many += &entry(
                &format!("R{k}"),
                &(20000 + 2 * k).to_string(),
                &format!("/l/libifdvpcd-{k}.so"),
            );
        }
        let c = conf(&[("f", &many)]);
        assert_eq!(c.readers.len(), 18);
        assert!(c.notes[0].contains("at most 16"), "{:?}", c.notes);
    }

    #[test]
    fn strtoul_reads_as_c_does() {
        let table: &[(&str, Option<u64>)] = &[
            ("35963", Some(35963)),
            ("0x8C7B", Some(35963)),
            ("0X8c7b", Some(35963)),
            ("0x", Some(0)),
            ("0xg", Some(0)),
            ("077", Some(63)),
            ("08", Some(0)),
            ("0", Some(0)),
            ("", Some(0)),
            ("abc", Some(0)),
            ("12abc", Some(12)),
            ("  42", Some(42)),
            ("+42", Some(42)),
            ("-1", Some(u64::MAX)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
        ];
        for (text, want) in table {
            assert_eq!(strtoul(text), *want, "{text:?}");
        }
    }

    /// A vpcd entry of small variety, so that names, ports and libraries collide now and then.
    fn arb_entry() -> impl Strategy<Value = String> {
        (0..4u8, 0..6u16, 0..4u8, any::<bool>(), any::<bool>()).prop_map(
            |(name, port, lib, hex, debian_order)| {
                let port = 29960 + port;
                let device = if hex {
                    format!("/dev/null:0x{port:X}")
                } else {
                    format!("/dev/null:{port}")
                };
                let lib = format!("/l/libifdvpcd-{lib}.so");
                if debian_order {
                    format!(
                        "# entry\nFRIENDLYNAME \"R{name}\"\nDEVICENAME {device}\nLIBPATH {lib}\n"
                    )
                } else {
                    format!(
                        "FRIENDLYNAME \"R{name}\" # x\nDEVICENAME {device}\nCHANNELID 7\n\
                         LIBPATH {lib}\n\n"
                    )
                }
            },
        )
    }

    proptest! {
        /// The readers do not depend on the order of the files, and no port or name is listed
        /// twice.
        #[test]
        fn any_file_order_gives_the_same_readers(
            files in prop::collection::vec(prop::collection::vec(arb_entry(), 0..4), 0..5),
            with_debian in any::<bool>(),
        ) {
            let mut texts: Vec<(String, String)> = files
                .iter()
                .enumerate()
                .map(|(i, entries)| (format!("f{i}"), entries.concat()))
                .collect();
            if with_debian {
                texts.push(("vpcd".into(), DEBIAN.into()));
            }
            let forward: Vec<(&str, &str)> =
                texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
            let backward: Vec<(&str, &str)> = forward.iter().rev().copied().collect();
            let a = conf(&forward);
            prop_assert_eq!(&a, &conf(&backward));
            let ports: HashSet<u16> = a.readers.iter().map(|(p, _)| *p).collect();
            let names: HashSet<&String> = a.readers.iter().map(|(_, n)| n).collect();
            prop_assert_eq!(ports.len(), a.readers.len());
            prop_assert_eq!(names.len(), a.readers.len());
            if with_debian {
                prop_assert_eq!(&a.readers[..2], &default_readers()[..]);
            }
        }

        /// Any text: no panic; every reader is a pair of one entry on consecutive ports.
        #[test]
        fn any_text_is_read_without_panic(text in "(?s).{0,300}") {
            let c = conf(&[("f", text.as_str())]);
            prop_assert!(c.readers.len().is_multiple_of(2));
            for pair in c.readers.chunks(2) {
                prop_assert_eq!(pair[1].0, pair[0].0.wrapping_add(1));
            }
            if c.refused.is_some() {
                prop_assert!(c.readers.is_empty());
            }
        }

        /// Keys and values built from pcscd's own words, in any order.
        #[test]
        fn any_sequence_of_fields_is_read(
            fields in prop::collection::vec((0..5usize, 0..4u16), 0..16),
        ) {
            let keys = ["FRIENDLYNAME", "DEVICENAME", "LIBPATH", "CHANNELID", "#"];
            let text: String = fields
                .iter()
                .map(|(k, v)| match keys[*k] {
                    "FRIENDLYNAME" => format!("FRIENDLYNAME \"N{v}\"\n"),
                    "DEVICENAME" => format!("DEVICENAME /dev/null:{}\n", 29963 + 2 * v),
                    "LIBPATH" => format!("LIBPATH /l/libifdvpcd-{v}.so\n"),
                    "CHANNELID" => format!("CHANNELID {v}\n"),
                    _ => "# comment\n".to_owned(),
                })
                .collect();
            let c = conf(&[("f", text.as_str())]);
            if c.refused.is_none() {
                for (port, name) in &c.readers {
                    prop_assert!(name.starts_with('N'));
                    prop_assert!(*port >= 29963 || *port <= 4);
                }
            }
        }
    }
}
