//! The nested communities households belong to (scenario field `community`; by default from the
//! grid: feeder, then lateral street), and the events that change them during a run.

use std::collections::BTreeMap;

/// The nested communities: for every household, its communities from the smallest up to the
/// whole community (index 0). Households it does not know belong to the whole community only.
#[derive(Debug, Clone)]
pub struct Communities {
    /// Community paths by index (`""` is the whole community).
    pub names: Vec<String>,
    /// Depth of each community (0 = whole community).
    pub depth: Vec<u8>,
    chains: Vec<Vec<u32>>,
}

impl Communities {
    /// From each household's community path (outermost first).
    pub fn new(paths: &[Vec<String>]) -> Communities {
        let mut index: BTreeMap<String, u32> = BTreeMap::new();
        let mut c = Communities { names: vec![String::new()], depth: vec![0], chains: Vec::with_capacity(paths.len()) };
        index.insert(String::new(), 0);
        for path in paths {
            let mut chain = vec![0u32];
            let mut name = String::new();
            for (d, part) in path.iter().enumerate() {
                if !name.is_empty() {
                    name.push('/');
                }
                name.push_str(part);
                let next = c.names.len() as u32;
                let ix = *index.entry(name.clone()).or_insert_with(|| {
                    c.names.push(name.clone());
                    c.depth.push((d + 1).min(u8::MAX as usize) as u8);
                    next
                });
                chain.push(ix);
            }
            chain.reverse();
            c.chains.push(chain);
        }
        c
    }

    /// The household's communities, smallest first, ending with the whole community.
    pub fn of(&self, household: u32) -> &[u32] {
        self.chains.get(household as usize).map(|c| &c[..]).unwrap_or(&[0])
    }

    pub fn levels(&self) -> usize {
        self.depth.iter().copied().max().unwrap_or(0) as usize + 1
    }
}

/// A household's community changing during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityEvent {
    pub step: u64,
    pub household: u32,
    pub change: CommunityChange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommunityChange {
    Join(Vec<String>),
    Leave,
}
