// Placeholder until the WebAssembly backend lands: nothing to build yet.
