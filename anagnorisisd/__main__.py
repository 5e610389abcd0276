from anagnorisisd.cli.main import main

raise SystemExit(main())
