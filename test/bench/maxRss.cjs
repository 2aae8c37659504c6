// Preload for statusCli.mjs: prints the process's peak RSS (KiB) on stderr as it exits.
'use strict';
const fs = require('node:fs');
process.on('exit', () => {
  fs.writeSync(2, `MAXRSS ${process.resourceUsage().maxRSS}\n`);
});
