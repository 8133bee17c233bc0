//! Smaller programs from a failing one: fewer actions, datasets bypassed,
//! fewer source elements, fewer partitions. The runner keeps any candidate that
//! still fails and shrinks again from it.

use super::program::{Action, Ask, Node, Program};

/// The program without datasets no action reads (directly or not).
pub fn prune(p: &Program) -> Program {
    let mut needed = vec![false; p.nodes.len()];
    for a in &p.asks {
        if a.on < needed.len() {
            needed[a.on] = true;
        }
    }
    for i in (0..p.nodes.len()).rev() {
        if needed[i] {
            for j in p.nodes[i].inputs() {
                needed[j] = true;
            }
        }
    }
    let mut new_index = vec![usize::MAX; p.nodes.len()];
    let mut nodes = Vec::new();
    for (i, node) in p.nodes.iter().enumerate() {
        if needed[i] {
            new_index[i] = nodes.len();
            let inputs: Vec<usize> = node.inputs().iter().map(|&j| new_index[j]).collect();
            nodes.push(node.with_inputs(&inputs));
        }
    }
    let asks = p.asks.iter().map(|a| Ask { on: new_index[a.on], action: a.action.clone() }).collect();
    Program { nodes, asks }
}

/// Every use of dataset `from` reads dataset `to` instead.
fn redirect(p: &Program, from: usize, to: usize) -> Program {
    let swap = |i: usize| if i == from { to } else { i };
    let nodes =
        p.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if i > from { n.with_inputs(&n.inputs().into_iter().map(swap).collect::<Vec<_>>()) } else { n.clone() }
            })
            .collect();
    let asks = p.asks.iter().map(|a| Ask { on: swap(a.on), action: a.action.clone() }).collect();
    prune(&Program { nodes, asks })
}

fn with_node(p: &Program, i: usize, node: Node) -> Program {
    let mut q = p.clone();
    q.nodes[i] = node;
    q
}

/// Simpler versions of a source or an op's parameters.
fn simpler_nodes(node: &Node) -> Vec<Node> {
    let mut out = Vec::new();
    match node {
        Node::Parallelize { items, parts } => {
            let n = items.len();
            if n > 0 {
                out.push(Node::Parallelize { items: items[..n / 2].to_vec(), parts: *parts });
                out.push(Node::Parallelize { items: items[n / 2..].to_vec(), parts: *parts });
                for i in 0..n.min(8) {
                    let mut fewer = items.clone();
                    fewer.remove(i * n / n.min(8));
                    out.push(Node::Parallelize { items: fewer, parts: *parts });
                }
            }
            for p in [1, 2] {
                if *parts != p {
                    out.push(Node::Parallelize { items: items.clone(), parts: p });
                }
            }
        }
        Node::Range { start, end, step, parts } => {
            let mid = start + (end - start) / 2;
            if mid != *end {
                out.push(Node::Range { start: *start, end: mid, step: *step, parts: *parts });
            }
            for p in [1, 2] {
                if *parts != p {
                    out.push(Node::Range { start: *start, end: *end, step: *step, parts: p });
                }
            }
        }
        Node::ReduceByKey { of, merge, parts } if *parts > 1 => {
            out.push(Node::ReduceByKey { of: *of, merge: *merge, parts: 1 });
        }
        Node::GroupByKey { of, parts } if *parts > 1 => out.push(Node::GroupByKey { of: *of, parts: 1 }),
        Node::Coalesce { of, parts } if *parts > 1 => out.push(Node::Coalesce { of: *of, parts: parts - 1 }),
        Node::Repartition { of, parts } if *parts > 1 => out.push(Node::Repartition { of: *of, parts: parts - 1 }),
        _ => {}
    }
    out
}

/// Candidates, roughly the largest cuts first.
pub fn candidates(p: &Program) -> Vec<Program> {
    let mut out = Vec::new();
    if p.asks.len() > 1 {
        for a in &p.asks {
            out.push(prune(&Program { nodes: p.nodes.clone(), asks: vec![a.clone()] }));
        }
    }
    let pruned = prune(p);
    if pruned != *p {
        out.push(pruned);
    }
    for i in (0..p.nodes.len()).rev() {
        for j in p.nodes[i].inputs() {
            out.push(redirect(p, i, j));
        }
    }
    for (i, node) in p.nodes.iter().enumerate() {
        for simpler in simpler_nodes(node) {
            out.push(with_node(p, i, simpler));
        }
    }
    for (i, a) in p.asks.iter().enumerate() {
        let simpler = match a.action {
            Action::Take(n) if n > 1 => Some(Action::Take(n / 2)),
            Action::SaveAndRead | Action::Take(_) | Action::First | Action::Count => Some(Action::Collect),
            _ => None,
        };
        if let Some(action) = simpler {
            let mut q = p.clone();
            q.asks[i].action = action;
            out.push(q);
        }
    }
    out.retain(|q| q != p && !q.nodes.is_empty());
    out
}
