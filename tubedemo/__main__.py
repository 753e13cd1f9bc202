from tubedemo.cli import main

main()
