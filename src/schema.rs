//! The root type's schema: what `Persistent::layout` describes (names, sizes, alignments,
//! field offsets, recursively), as JSON, so that tools read a pool without its Rust type.
//! A pool stores its root's schema in a block named by the header (`docs/format.md`).
//!
//! A node is a leaf, `{"prim":"u64","size":8,"align":8}`, or a compound,
//! `{"type":"PVec","size":24,"align":8,"items":[...]}`, whose items are fields
//! (`{"field":"names","offset":0,"node":{...}}`), type arguments (a bare node), numbers
//! (`{"int":4}`: an array's length, an enum's discriminant) and strings (`{"str":"Red"}`: an
//! enum variant). A compound nested deeper than the fingerprint's limit has `"cut":true` and
//! no items.

/// Builds the JSON text while a type's `layout` runs (driven by `Fingerprint`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Builder {
    /// Open compounds: (the compound's JSON up to its items, its field label, its items).
    stack: Vec<Frame>,
    /// The field label that the next node belongs to.
    pending: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Clone)]
struct Frame {
    head: String,
    field: Option<String>,
    items: Vec<String>,
    cut: bool,
}

impl Builder {
    pub(crate) fn primitive(&mut self, name: &str, size: usize, align: usize) {
        let field = self.pending.take();
        let node = format!(
            "{{\"prim\":{},\"size\":{size},\"align\":{align}}}",
            quote(name)
        );
        self.push(node, field);
    }

    pub(crate) fn begin(&mut self, name: &str, size: usize, align: usize, cut: bool) {
        let head = format!(
            "{{\"type\":{},\"size\":{size},\"align\":{align}",
            quote(name)
        );
        self.stack.push(Frame {
            head,
            field: self.pending.take(),
            items: Vec::new(),
            cut,
        });
    }

    pub(crate) fn end(&mut self) {
        let f = self.stack.pop().expect("end_struct without begin_struct");
        let node = if f.cut {
            format!("{},\"cut\":true}}", f.head)
        } else {
            format!("{},\"items\":[{}]}}", f.head, f.items.join(","))
        };
        self.push(node, f.field);
    }

    /// The next node is the field `name` at `offset` of the open compound.
    pub(crate) fn field(&mut self, name: &str, offset: usize) {
        self.pending = Some(format!("\"field\":{},\"offset\":{offset}", quote(name)));
    }

    pub(crate) fn int(&mut self, v: u64) {
        self.item(format!("{{\"int\":{v}}}"));
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.item(format!("{{\"str\":{}}}", quote(s)));
    }

    fn item(&mut self, it: String) {
        if let Some(f) = self.stack.last_mut().filter(|f| !f.cut) {
            f.items.push(it);
        }
    }

    fn push(&mut self, node: String, field: Option<String>) {
        let it = match field {
            Some(f) => format!("{{{f},\"node\":{node}}}"),
            None => node,
        };
        match self.stack.last_mut() {
            Some(f) if !f.cut => f.items.push(it),
            Some(_) => {}
            None => self.done = Some(it),
        }
    }

    /// The root node's JSON, once its layout has finished.
    pub(crate) fn finish(&self) -> Option<&str> {
        self.done.as_deref()
    }
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
