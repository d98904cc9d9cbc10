/* Placeholder: replaced by the real shim. */
int koala_shim_placeholder(void) { return 0; }
