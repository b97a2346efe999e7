from vecbridge.cli import main

main()
