//! The module tree reads as the data flow: every module of `src/` belongs to a layer, and a
//! module may reach modules of its own layer and of the layers below it, never above.
//!
//! Every file is parsed with `syn`, and every `crate::`, `super::` and `self::` path is collected:
//! `use` and `pub use` items, paths written inline in code and types, and paths in macro bodies
//! (including `$crate::`). Each is resolved to the top-level module it reaches, and so to a layer.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use proc_macro2::TokenTree;
use syn::visit::Visit;

/// The layers, bottom first, one line per layer: the top-level modules (folders or files of
/// `src/`) in each. A module may import from its own layer and from the lines above it here.
const LAYERS: &[&[&str]] = &[
    &["base"],
    &["environment"],
    &["household"],
    &["grid"],
    &["market"],
    &["settlement"],
    &["ledger"],
    &["community"],
    &["metrics"],
    &["scenario"],
    &["sim"],
    &["output"],
    &["viz"],
    &["app"],
    &["testing"],
];

/// Known violations while the tree is being moved: `file -> layer reached`. Must end empty.
const ALLOWED: &[&str] = &[];

/// The crate root's files: they only declare modules and the binary's entry point.
const ROOT_FILES: &[&str] = &["lib.rs", "main.rs"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// One path that leaves its module, as found in a file.
struct Reach {
    line: usize,
    path: String,
    /// The top-level module it reaches.
    target: String,
}

/// Collects the paths of one file; `module` is the module path of the file (`["grid", "flow"]`),
/// extended while the visitor is inside inline `mod` items.
struct Collector {
    module: Vec<String>,
    found: Vec<Reach>,
}

impl Collector {
    /// Resolves a path's leading `crate`/`super`/`self` segments to the top-level module.
    fn resolve(&mut self, segments: &[String], line: usize) {
        let Some(first) = segments.first() else { return };
        let mut base: Vec<String> = match first.as_str() {
            "crate" | "$crate" => Vec::new(),
            "super" | "self" => self.module.clone(),
            _ => return,
        };
        let mut rest = &segments[1..];
        if first == "super" {
            base.pop();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        let target = match base.first() {
            Some(top) => top.clone(),
            None => match rest.first() {
                Some(top) => top.clone(),
                None => return,
            },
        };
        self.found.push(Reach { line, path: segments.join("::"), target });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.resolve(&prefix.clone(), n.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.resolve(&prefix.clone(), r.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Glob(g) => {
                prefix.push("*".to_string());
                self.resolve(&prefix.clone(), g.star_token.span.start().line);
                prefix.pop();
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// Paths inside a macro's tokens: `crate :: a`, `$crate :: a`, `super :: a`.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tts.len() {
            match &tts[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if matches!(id.to_string().as_str(), "crate" | "super") => {
                    let dollar = i > 0 && matches!(&tts[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    let mut segments = vec![if dollar { "$crate".to_string() } else { id.to_string() }];
                    let mut j = i + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(next))) = (tts.get(j), tts.get(j + 1), tts.get(j + 2)) {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.resolve(&segments, id.span().start().line);
                    }
                    i = j.max(i + 1);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(s) = p.segments.first() {
            self.resolve(&segments, s.ident.span().start().line);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        self.tokens(m.tokens.clone());
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("src/ is readable").map(|e| e.expect("a directory entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `grid/flow.rs` → `[grid, flow]`, `grid/mod.rs` → `[grid]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

#[test]
fn imports_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut unplaced = BTreeSet::new();
    let mut violations = BTreeSet::new();
    let mut report = String::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let name = relative.to_string_lossy().replace('\\', "/");
        if ROOT_FILES.contains(&name.as_str()) {
            continue;
        }
        let module = module_of(relative);
        let Some(own) = layer_of(&module[0]) else {
            unplaced.insert(module[0].clone());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut c = Collector { module, found: Vec::new() };
        c.visit_file(&ast);
        for reach in c.found {
            let Some(target) = layer_of(&reach.target) else {
                unplaced.insert(reach.target.clone());
                continue;
            };
            if target > own {
                let key = format!("src/{name} -> {}", LAYERS[target][0]);
                if !ALLOWED.contains(&key.as_str()) {
                    writeln!(report, "src/{name}:{}: `{}` reaches layer `{}` above its own `{}`", reach.line, reach.path, LAYERS[target][0], LAYERS[own][0]).unwrap();
                }
                violations.insert(key);
            }
        }
    }
    assert!(unplaced.is_empty(), "modules in no layer (add them to LAYERS in tests/architecture.rs): {unplaced:?}");
    let stale: Vec<&&str> = ALLOWED.iter().filter(|a| !violations.contains(**a)).collect();
    assert!(stale.is_empty(), "allowed violations that no longer occur (remove them from ALLOWED): {stale:?}");
    assert!(report.is_empty(), "imports that point up:\n{report}");
}

/// The collector itself: it must see each kind of path, or the test above proves nothing.
#[test]
fn the_collector_sees_every_kind_of_path() {
    let text = r#"
        use crate::a::{b, c::D};
        pub use super::e::*;
        fn f() -> crate::g::H { crate::i::j(); say!("{}", $crate::k::l); super::super::m::N }
        mod inner { use super::super::o::P; }
    "#;
    let ast = syn::parse_file(text).expect("parses");
    let mut c = Collector { module: vec!["x".into(), "y".into()], found: Vec::new() };
    c.visit_file(&ast);
    let targets: BTreeSet<String> = c.found.iter().map(|r| r.target.clone()).collect();
    let expected: BTreeSet<String> = ["a", "x", "g", "i", "k", "m"].iter().map(|s| s.to_string()).collect();
    assert_eq!(targets, expected, "{:?}", c.found.iter().map(|r| &r.path).collect::<Vec<_>>());
}
