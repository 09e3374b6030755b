console.log("dispatch", process.version, process.argv.slice(2))
