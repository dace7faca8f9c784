//! /proc/PID/uid_map and gid_map: the one parser, used by the Root screen
//! (file owners as the process sees them), `exec` (who to become inside a
//! user namespace) and the comparison of inside and outside.

/// One line of /proc/PID/uid_map or gid_map: ids `inside..inside+count` in
/// the process's user namespace are `outside..outside+count` for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The id mapping of a process's user namespace as seen from ours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap {
    pub ranges: Vec<IdRange>,
}

impl IdMap {
    /// Parses the map as the kernel prints it (three numbers a line, padded
    /// with spaces); lines that are not three numbers are skipped.
    pub fn parse(text: &str) -> IdMap {
        let ranges = text
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace().map(|w| w.parse::<u32>());
                match (it.next(), it.next(), it.next()) {
                    (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) => Some(IdRange {
                        inside,
                        outside,
                        count,
                    }),
                    _ => None,
                }
            })
            .collect();
        IdMap { ranges }
    }

    /// The full identity map of the initial user namespace.
    pub fn is_identity(&self) -> bool {
        self.ranges.len() == 1
            && self.ranges[0].inside == 0
            && self.ranges[0].outside == 0
            && self.ranges[0].count == u32::MAX
    }

    /// The id inside the namespace for a host id, or `None` if unmapped (the
    /// process then sees the overflow id, usually 65534 `nobody`).
    pub fn to_inside(&self, host_id: u32) -> Option<u32> {
        self.ranges.iter().find_map(|r| {
            let offset = host_id.checked_sub(r.outside)?;
            (offset < r.count).then(|| r.inside.checked_add(offset))?
        })
    }

    /// Whether `id` is an id that exists inside the namespace (is mapped).
    pub fn maps_inside(&self, id: u32) -> bool {
        self.ranges
            .iter()
            .any(|r| id.checked_sub(r.inside).is_some_and(|off| off < r.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_parsed_as_the_kernel_prints_them() {
        let map =
            IdMap::parse("         0       1001          1\n       100     200000   5\nbad\n");
        let r = |inside, outside, count| IdRange {
            inside,
            outside,
            count,
        };
        assert_eq!(map.ranges, vec![r(0, 1001, 1), r(100, 200000, 5)]);
        assert_eq!(map.to_inside(200004), Some(104));
        assert_eq!(map.to_inside(200005), None);
        assert!(map.maps_inside(0) && !map.maps_inside(1));
        // No overflow at the top of the id space.
        let all = IdMap::parse("0 0 4294967295");
        assert!(all.is_identity());
        assert_eq!(all.to_inside(u32::MAX - 1), Some(u32::MAX - 1));
    }

    #[test]
    fn id_maps() {
        let one = IdMap::parse("         0       1000          1\n");
        assert_eq!(one.to_inside(1000), Some(0));
        assert_eq!(
            IdMap::parse("         0          0 4294967295\n").to_inside(42),
            Some(42)
        );
        assert_eq!(one.to_inside(1001), None);
    }
}
