package sampling

// testProcess is the plugin server of this package's tests.
var testProcess = NewProcess()
