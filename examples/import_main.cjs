// PyMOTW multiprocessing_import_main.py (CommonJS): the target is imported from
// another module, so that module is named with { module }.
const path = require('node:path');
const { Process, isMainProcess } = require('multiproc');
const { worker } = require('./import_worker.cjs');

if (isMainProcess()) {
  for (let i = 0; i < 5; i++) {
    new Process({ target: worker, module: path.join(__dirname, 'import_worker.cjs') }).start();
  }
}
