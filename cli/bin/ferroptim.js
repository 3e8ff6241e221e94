#!/usr/bin/env node
// The `ferroptim` command: runs the compiled CLI (npm run build makes dist/).
'use strict';
require('../dist/cli/index.js').run();
