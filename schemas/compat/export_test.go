package compat

// WithMaxStepsForTest lowers the step budget, to test what happens when it runs out.
var WithMaxStepsForTest = withMaxSteps
