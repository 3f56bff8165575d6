// baton's entry point: parse the command line and hand over to App.
int main() { return 0; }
