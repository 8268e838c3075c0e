package main

import "errors"

var errTODO = errors.New("not implemented yet")

func (c *cli) provision(args []string) error    { return errTODO }
func (c *cli) auxProvision(args []string) error { return errTODO }
func (c *cli) auxClear(args []string) error     { return errTODO }
func (c *cli) signerCreate(args []string) error { return errTODO }
func (c *cli) deviceCreate(args []string) error { return errTODO }
