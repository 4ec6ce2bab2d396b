from eventyard.cli.app import main

main()
