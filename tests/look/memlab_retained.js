// Loads a .heapsnapshot with memlab, lets it compute dominators and
// retained sizes itself, and prints the N largest retained sizes (the
// synthetic root left out) and how long it took, as JSON:
//   node memlab_retained.js FILE N
// Run with NODE_PATH pointing at the node_modules holding @memlab/heap-analysis.
'use strict';
const {getFullHeapFromFile} = require('@memlab/heap-analysis');

async function main() {
  const [file, n] = process.argv.slice(2);
  const t0 = process.hrtime.bigint();
  const snapshot = await getFullHeapFromFile(file);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rows = [];
  snapshot.nodes.forEach(node => {
    if (node.nodeIndex === 0) return;
    rows.push([node.retainedSize, node.id, node.name, node.self_size]);
  });
  rows.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  process.stdout.write(JSON.stringify({
    seconds, nodes: snapshot.nodes.length,
    top: rows.slice(0, Number(n)).map(r => ({retained: r[0], id: r[1], name: r[2]})),
  }) + '\n');
}
main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
