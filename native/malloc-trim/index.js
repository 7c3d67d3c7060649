// The compiled addon (node-gyp builds it at npm install); see trim.c.
module.exports = require("./build/Release/malloc_trim.node");
