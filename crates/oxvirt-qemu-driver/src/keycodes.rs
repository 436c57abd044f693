//! Key codes of virDomainSendKey translated to QEMU's numbers (QNUM:
//! PC set 1 scancodes, an E0-prefixed key as 0x80 | its second byte).
//!
//! libvirt translates through the keycodemapdb tables; oxvirt carries
//! no copy of them, only the standard PC keyboard: the Linux input codes
//! of its keys, set 1 (exact by definition), XT, and the alphanumeric
//! block, Enter, Escape, Space, Backspace and Tab of set 2, set 3, USB
//! HID and Win32 virtual keys. A key outside these fails with libvirt's
//! "cannot translate keycode" error (see ARCHITECTURE.md).

/// virKeycodeSet names (VIR_KEYCODE_SET_*), in their numeric order.
const NAMES: [&str; 10] = [
    "linux", "xt", "atset1", "atset2", "atset3", "osx", "xt_kbd", "usb", "win32", "qnum",
];

pub(crate) fn codeset_name(set: u32) -> &'static str {
    NAMES.get(set as usize).copied().unwrap_or("unknown")
}

/// Linux input codes above the identical 1..=83 block, with their QNUM.
const LINUX_EXTRA: &[(u32, u32)] = &[
    (86, 0x56),  // KEY_102ND
    (87, 0x57),  // KEY_F11
    (88, 0x58),  // KEY_F12
    (96, 0x9c),  // KEY_KPENTER
    (97, 0x9d),  // KEY_RIGHTCTRL
    (98, 0xb5),  // KEY_KPSLASH
    (99, 0x54),  // KEY_SYSRQ
    (100, 0xb8), // KEY_RIGHTALT
    (102, 0xc7), // KEY_HOME
    (103, 0xc8), // KEY_UP
    (104, 0xc9), // KEY_PAGEUP
    (105, 0xcb), // KEY_LEFT
    (106, 0xcd), // KEY_RIGHT
    (107, 0xcf), // KEY_END
    (108, 0xd0), // KEY_DOWN
    (109, 0xd1), // KEY_PAGEDOWN
    (110, 0xd2), // KEY_INSERT
    (111, 0xd3), // KEY_DELETE
    (113, 0xa0), // KEY_MUTE
    (114, 0xae), // KEY_VOLUMEDOWN
    (115, 0xb0), // KEY_VOLUMEUP
    (116, 0xde), // KEY_POWER
    (119, 0xc6), // KEY_PAUSE
    (125, 0xdb), // KEY_LEFTMETA
    (126, 0xdc), // KEY_RIGHTMETA
    (127, 0xdd), // KEY_COMPOSE
];

/// Linux codes of A..Z, then 1..9, 0.
const LETTERS: [u32; 26] = [
    30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45,
    21, 44,
];
const DIGITS: [u32; 10] = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/// Linux codes of Enter, Escape, Space, Backspace, Tab.
const ENTER: u32 = 28;
const ESC: u32 = 1;
const SPACE: u32 = 57;
const BACKSPACE: u32 = 14;
const TAB: u32 = 15;

/// Set 2 scancodes of A..Z and 1..9, 0 (set 3 has the same).
const SET2_LETTERS: [u32; 26] = [
    0x1c, 0x32, 0x21, 0x23, 0x24, 0x2b, 0x34, 0x33, 0x43, 0x3b, 0x42, 0x4b, 0x3a, 0x31, 0x44, 0x4d,
    0x15, 0x2d, 0x1b, 0x2c, 0x3c, 0x2a, 0x1d, 0x22, 0x35, 0x1a,
];
const SET2_DIGITS: [u32; 10] = [0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x45];

fn linux_to_qnum(k: u32) -> Option<u32> {
    if (1..=83).contains(&k) {
        return Some(k);
    }
    LINUX_EXTRA.iter().find(|(l, _)| *l == k).map(|(_, q)| *q)
}

/// The Linux code of an alphanumeric key from its place in `letters` /
/// `digits`, or of one of the named keys.
fn block(k: u32, letters: &[u32], digits: &[u32], named: &[(u32, u32)]) -> Option<u32> {
    if let Some(i) = letters.iter().position(|c| *c == k) {
        return Some(LETTERS[i]);
    }
    if let Some(i) = digits.iter().position(|c| *c == k) {
        return Some(DIGITS[i]);
    }
    named.iter().find(|(c, _)| *c == k).map(|(_, l)| *l)
}

/// `key` of `codeset` as QNUM, when known.
pub(crate) fn to_qnum(codeset: u32, key: u32) -> Option<u32> {
    let seq = |from: u32| (from..from + 26).collect::<Vec<u32>>();
    match codeset {
        0 => linux_to_qnum(key),
        // XT: the 83 keys of the original keyboard, numbered as set 1.
        1 => (1..=83).contains(&key).then_some(key),
        2 => match key {
            1..=0x7f => Some(key),
            0xe001..=0xe07f => Some(0x80 | (key & 0x7f)),
            _ => None,
        },
        3 | 4 => {
            let esc = if codeset == 3 { 0x76 } else { 0x08 };
            let named = [
                (0x5a, ENTER),
                (esc, ESC),
                (0x29, SPACE),
                (0x66, BACKSPACE),
                (0x0d, TAB),
            ];
            block(key, &SET2_LETTERS, &SET2_DIGITS, &named).and_then(linux_to_qnum)
        }
        6 => (1..=0x7f).contains(&key).then_some(key),
        7 => {
            let letters = seq(4);
            let digits: Vec<u32> = (30..40).collect();
            let named = [
                (40, ENTER),
                (41, ESC),
                (44, SPACE),
                (42, BACKSPACE),
                (43, TAB),
            ];
            block(key, &letters, &digits, &named).and_then(linux_to_qnum)
        }
        8 => {
            let letters = seq(0x41);
            let digits: Vec<u32> = (0x31..0x3a).chain([0x30]).collect();
            let named = [
                (0x0d, ENTER),
                (0x1b, ESC),
                (0x20, SPACE),
                (0x08, BACKSPACE),
                (0x09, TAB),
            ];
            block(key, &letters, &digits, &named).and_then(linux_to_qnum)
        }
        9 => Some(key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_in_every_codeset() {
        // 'A'
        for (set, k) in [
            (0, 30),
            (1, 30),
            (2, 30),
            (3, 0x1c),
            (4, 0x1c),
            (7, 4),
            (8, 0x41),
            (9, 30),
        ] {
            assert_eq!(to_qnum(set, k), Some(30), "codeset {}", set);
        }
        // Up arrow: E0 48
        assert_eq!(to_qnum(0, 103), Some(0xc8));
        assert_eq!(to_qnum(2, 0xe048), Some(0xc8));
        // '0' is after '9'
        assert_eq!(to_qnum(8, 0x30), Some(11));
        assert_eq!(to_qnum(7, 39), Some(11));
        assert_eq!(to_qnum(0, 300), None);
        assert_eq!(codeset_name(8), "win32");
    }
}
