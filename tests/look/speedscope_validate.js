// Validates a speedscope file against speedscope's own
// file-format-schema.json with ajv, and prints the sum of its weights:
//   node speedscope_validate.js FILE
// Run with NODE_PATH pointing at the node_modules holding speedscope and ajv.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');

const schemaFile = path.join(path.dirname(require.resolve('speedscope/package.json')),
                             'dist', 'release', 'file-format-schema.json');
const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
const ajv = new Ajv({allErrors: true, strict: false});
const validate = ajv.compile(schema);
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (!validate(doc)) {
  console.error(JSON.stringify(validate.errors.slice(0, 5)));
  process.exit(1);
}
let sum = 0;
for (const p of doc.profiles) {
  for (const w of p.weights) sum += w;
  for (const s of p.samples)
    for (const f of s)
      if (!(f >= 0 && f < doc.shared.frames.length)) {
        console.error('sample names frame ' + f + ' of ' + doc.shared.frames.length);
        process.exit(1);
      }
}
process.stdout.write(JSON.stringify({valid: true, weights: sum, frames: doc.shared.frames.length}) + '\n');
